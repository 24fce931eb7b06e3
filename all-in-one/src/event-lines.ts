// One readable line per bus event, for the all-in-one's console.
import type { Message } from '@deploybus/protocol';

export function describeEvent(m: Message): string {
  const time = m.time.slice(11, 19);
  const from = `${m.source.service}@${m.source.host}`;
  switch (m.type) {
    case 'commit.pushed':
      return `${time} ${from}  commit.pushed  ${m.payload.repo} ${m.payload.ref} ${m.payload.after.slice(0, 10)} (${m.payload.origin})`;
    case 'build.requested':
    case 'build.started':
    case 'build.succeeded':
      return `${time} ${from}  ${m.type}  ${m.payload.job} ${'number' in m.payload && m.payload.number !== undefined ? `#${m.payload.number}` : ''} ${m.payload.sha.slice(0, 10)}`;
    case 'build.failed':
      return `${time} ${from}  build.failed  ${m.payload.job} ${m.payload.result}: ${m.payload.reason}`;
    case 'repo.updated':
      return `${time} ${from}  repo.updated  ${m.payload.repo} on ${m.payload.host}: ${m.payload.error ?? `head ${m.payload.head?.slice(0, 10) ?? '-'}, tags ${m.payload.tags.join(' ')}`}`;
    case 'presence.changed':
      return `${time} ${from}  presence ${m.payload.state}  ${m.payload.service}@${m.payload.host}`;
    default:
      return `${time} ${from}  ${m.type}`;
  }
}
