// Slack through an incoming webhook: one message per deploy queued / started / succeeded / failed /
// cancelled, with app, environment, ref, who, duration and a link. The request is what Slack documents:
// POST application/json {text, blocks}; Slack answers 200 "ok", or 4xx with a reason ("invalid_payload",
// "channel_not_found", ...) that no retry can fix, or 5xx.
import type { Destination } from './destination.js';
import { humanDuration, linkFor, type DeploymentFactsCache, type DeploymentSummary } from './deployment-facts.js';
import type { LogEvent } from './event-log.js';
import { expectSuccess, type HttpSender } from './http-sender.js';
import { USER_AGENT } from './webhook-destination.js';

export const SLACK_EVENTS = ['deploy.queued', 'deploy.started', 'deploy.succeeded', 'deploy.failed', 'deploy.cancelled'] as const;

export interface SlackNotifierOptions {
  readonly name: string;
  readonly webhookUrl: string;
  readonly events: readonly string[];
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  /** Link template, e.g. "https://deploybus.example.com/deploys/{deploymentId}". */
  readonly link?: string | undefined;
  readonly timeoutMs: number;
}

/** Slack's mrkdwn needs &, < and > escaped; everything else is shown as written. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The message for one event, or undefined for events Slack is not told about. */
export function slackMessage(event: LogEvent, s: DeploymentSummary, link: string | undefined): { text: string; blocks: unknown[] } | undefined {
  const p = (event.payload ?? {}) as { position?: unknown; durationMs?: unknown; reason?: unknown; hosts?: unknown; succeededHosts?: unknown; failedHosts?: unknown; cancelledBy?: unknown };
  const what = `*${slackEscape(s.app)}* ${slackEscape(s.ref ?? '?')}${s.sha === undefined ? '' : ` (\`${s.sha.slice(0, 7)}\`)`}`;
  const env = `*${slackEscape(s.env)}*`;
  const who = slackEscape(s.requestedBy ?? 'someone');
  const took = typeof p.durationMs === 'number' ? humanDuration(p.durationMs) : undefined;
  const count = (v: unknown): number => (Array.isArray(v) ? v.length : 0);
  let text: string;
  switch (event.type) {
    case 'deploy.queued':
      text = `:hourglass_flowing_sand: ${who} queued ${what} for ${env}${typeof p.position === 'number' && p.position > 0 ? ` (${p.position} ahead)` : ''}`;
      break;
    case 'deploy.started':
      text = `:rocket: ${who} is deploying ${what} to ${env} (${count(p.hosts)} hosts)`;
      break;
    case 'deploy.succeeded':
      text = `:white_check_mark: ${what} is live in ${env}: deployed by ${who}${took === undefined ? '' : ` in ${took}`} (${count(p.succeededHosts)} hosts)`;
      break;
    case 'deploy.failed':
      text = `:x: ${what} failed in ${env} (deploy by ${who}${took === undefined ? '' : `, ${took}`}): ${slackEscape(String(p.reason ?? 'no reason given').slice(0, 500))}`;
      break;
    case 'deploy.cancelled':
      text = `:no_entry_sign: ${what} to ${env} was cancelled by ${slackEscape(String(p.cancelledBy ?? 'someone'))}: ${slackEscape(String(p.reason ?? '').slice(0, 500))}`;
      break;
    default:
      return undefined;
  }
  const full = link === undefined ? text : `${text} <${link}|details>`;
  return { text: full, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: full } }] };
}

export function slackDestination(o: SlackNotifierOptions, deps: { sender: HttpSender; facts: DeploymentFactsCache }): Destination {
  const id = `slack:${o.name}`;
  return {
    id,
    filter: { types: o.events, app: o.app, env: o.env },
    async deliver(event, _attempt, signal) {
      const summary = await deps.facts.summaryOf(event);
      if (summary === undefined) return;
      const message = slackMessage(event, summary, linkFor(o.link, summary));
      if (message === undefined) return;
      const answer = await deps.sender.send(id, { url: o.webhookUrl, timeoutMs: o.timeoutMs, signal, body: JSON.stringify(message), headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT } });
      expectSuccess(id, answer);
    },
  };
}
