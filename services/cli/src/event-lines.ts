// One line per live event for `deploybus tail`. Pure. Payloads are read with the protocol's schemas;
// a type this CLI does not know yet is shown with its payload as compact JSON.
import { messageSpecByType } from '@deploybus/protocol';
import type { BusEvent } from './api-client.js';
import { formatDuration, formatTime, shortSha } from './human-format.js';

export function describeEvent(event: BusEvent): string {
  const time = formatTime(event.time).slice(11) || event.time;
  return `${time}  ${event.type}  ${summaryOf(event)}`;
}

function summaryOf(event: BusEvent): string {
  const spec = messageSpecByType.get(event.type);
  const parsed = spec?.payload.safeParse(event.payload);
  if (!parsed?.success) return compact(event.payload);
  const p = parsed.data as Record<string, unknown>;
  const where = typeof p['app'] === 'string' && typeof p['env'] === 'string' ? `${p['app']}/${p['env']}` : '';
  const id = typeof p['deploymentId'] === 'string' ? ` ${p['deploymentId']}` : '';
  switch (event.type) {
    case 'deploy.queued':
    case 'deploy.started':
      return `${where}${id} ${String(p['ref'])} ${shortSha(p['sha'] as string | undefined)} by ${String(p['requestedBy'])}${Array.isArray(p['hosts']) ? ` on ${(p['hosts'] as string[]).join(',')}` : ''}`;
    case 'deploy.requested':
      return `${where} ${String(p['ref'])} by ${String(p['requestedBy'])}${p['force'] ? ' (forced)' : ''}`;
    case 'deploy.refused':
      return `${where} ${String(p['ref'])} by ${String(p['requestedBy'])}: ${String(p['code'])} ${String(p['reason'])}`;
    case 'deploy.batch':
      return `${where}${id} batch ${String(p['index'])}/${String(p['total'])}: ${(p['hosts'] as string[]).join(',')}`;
    case 'deploy.host-result':
      return `${where}${id} ${String(p['host'])} ${String(p['outcome'])}${p['error'] ? `: ${String(p['error'])}` : ''}`;
    case 'deploy.succeeded':
    case 'deploy.failed':
      return `${where}${id} ${String(p['ref'])} in ${formatDuration(p['durationMs'] as number)}${p['reason'] ? `: ${String(p['reason'])}` : ''}`;
    case 'deploy.cancelled':
      return `${where}${id} by ${String(p['cancelledBy'])}: ${String(p['reason'])}`;
    case 'task.started':
      return `${where}${id} ${String(p['host'])} ${String(p['step'])}`;
    case 'task.completed':
      return `${where}${id} ${String(p['host'])} ${String(p['step'])} ${p['ok'] ? 'ok' : 'FAILED'} ${formatDuration(p['durationMs'] as number)}`;
    case 'task.log':
      return `${where}${id} ${String(p['host'])} ${String(p['step'])}: ${(p['lines'] as { text: string }[]).map((l) => l.text).join(' | ')}`;
    case 'presence.changed':
      return `${String(p['service'])}@${String(p['host'])} ${String(p['state'])}`;
    case 'lock.state':
      return `${p['app'] ? `${String(p['app'])}/` : ''}${String(p['env'])} ${String(p['outcome'])}${p['locked'] ? ` by ${String(p['by'])}: ${String(p['reason'])}` : ''}`;
    default:
      return `${where}${id} ${compact(event.payload)}`.trim();
  }
}

function compact(value: unknown): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
