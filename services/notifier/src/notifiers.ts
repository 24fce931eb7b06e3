// The configured notifiers (Slack, GitHub, Jenkins): config shape, and a Destination for each entry.
import type { NotifierConfig } from './notifier.js';
import type { Destination } from './destination.js';
import type { EventLog } from './event-log.js';
import type { HttpSender } from './http-sender.js';

export const notifiersConfigShape = {};

export interface NotifierDeps {
  readonly log: EventLog;
  readonly sender: HttpSender;
  readonly timeoutMs: number;
}

export function notifierDestinations(_config: NotifierConfig, _deps: NotifierDeps): Destination[] {
  return [];
}
