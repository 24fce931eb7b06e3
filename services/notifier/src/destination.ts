// What the delivery scheduler drives: a destination takes the events of the log that match its filter,
// one at a time and in order, and delivers each (an HTTP callback, a Slack message, a GitHub status...).
import type { EventFilter, LogEvent } from './event-log.js';

export interface Destination {
  /** Unique and stable: the delivery position is stored under it ("sub-…" for subscriptions, "slack:NAME" …). */
  readonly id: string;
  readonly filter: EventFilter & { readonly types: readonly string[] };
  /** Delivers one event; resolves when the receiver took it. Throws DeliveryError (retriable or not). */
  deliver(event: LogEvent, attempt: number, signal: AbortSignal): Promise<void>;
}
