// The live event stream: ONE private bus subscription per web process, fanned out in memory to every
// connected SSE client through its own filter. A slow client never slows the bus: its writes buffer
// in its own socket, and a client that falls too far behind is disconnected (it reconnects and
// catches up from the ledger with Last-Event-ID: a seq, or the message id of a recorded live event).
import type { Bus, Subscription } from '@deploybus/bus';
import { isEventLogType, type Message } from '@deploybus/protocol';
import type { Logger } from '@deploybus/runtime';

/** What the UI and CLI watch: deploys, agents' task progress and logs, presence, lock changes. */
export const LIVE_PATTERNS = ['deploy.#', 'task.#', 'presence.changed.#', 'conductor.lock.state.#'] as const;

export interface StreamEvent {
  /** The message id. */
  readonly id: string;
  readonly type: string;
  readonly time: string;
  readonly payload: unknown;
  /** The ledger's position, for events replayed from it. */
  readonly seq?: number;
}

export interface EventFilter {
  readonly deploymentId?: string | undefined;
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  /** Exact types ("deploy.succeeded") or prefixes ("task.*"); "*" is everything. Absent: everything. */
  readonly types?: readonly string[] | undefined;
}

export function typeMatches(type: string, patterns: readonly string[] | undefined): boolean {
  if (patterns === undefined || patterns.length === 0) return true;
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

export function eventMatches(event: StreamEvent, filter: EventFilter): boolean {
  if (!typeMatches(event.type, filter.types)) return false;
  if (filter.deploymentId === undefined && filter.app === undefined && filter.env === undefined) return true;
  const payload = event.payload as { deploymentId?: unknown; app?: unknown; env?: unknown } | null;
  if (typeof payload !== 'object' || payload === null) return false;
  if (filter.deploymentId !== undefined && payload.deploymentId !== filter.deploymentId) return false;
  if (filter.app !== undefined && payload.app !== filter.app) return false;
  if (filter.env !== undefined && payload.env !== filter.env) return false;
  return true;
}

/**
 * One SSE frame. JSON.stringify escapes newlines, so `data:` is always one line. `id:` is the ledger seq
 * when known, else the message id of an event the ledger records (resumable with afterId); an event the
 * ledger never records has no `id:` line, so the client's Last-Event-ID stays on the last resumable one
 * (the SSE rules carry it over).
 */
export function sseFrame(event: StreamEvent): string {
  const data = { id: event.id, type: event.type, time: event.time, payload: event.payload, ...(event.seq === undefined ? {} : { seq: event.seq }) };
  const id = event.seq !== undefined ? String(event.seq) : isEventLogType(event.type) ? event.id : undefined;
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export type LiveListener = (event: StreamEvent) => void;

export class LiveEvents {
  readonly #listeners = new Set<LiveListener>();
  #subscription: Subscription | undefined;

  constructor(private readonly options: { readonly bus: Bus; readonly logger: Logger }) {}

  async start(): Promise<void> {
    this.#subscription = await this.options.bus.subscribe({ patterns: LIVE_PATTERNS, prefetch: 256 }, (message) => this.#deliver(message));
  }

  async stop(): Promise<void> {
    this.#listeners.clear();
    await this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Adds a listener; returns its removal. */
  listen(listener: LiveListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #deliver(message: Message): void {
    const event: StreamEvent = { id: message.id, type: message.type, time: message.time, payload: message.payload };
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        // One broken client must not cost the others their events, nor the bus a redelivery.
        this.options.logger.warn({ err: error instanceof Error ? error.message : String(error), type: message.type }, 'a live event listener failed');
      }
    }
  }
}
