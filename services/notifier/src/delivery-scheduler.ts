// Drives every destination through the conductor's event log. Each destination has a cursor (the seq of
// the last event it is done with, stored in the notifier's store) and at most one delivery in flight, so
// its events arrive in log order. Across destinations, at most `maxConcurrent` HTTP attempts run at once,
// and a slow receiver only holds its own slot until its timeout: it never holds up the others, and it
// never touches a deploy (the conductor does not wait for anyone here).
//
// A delivery is retried with backoff; when its attempts are spent the destination is marked failing and
// stays where it is (the backlog is the log itself, kept for the conductor's retention). A failing
// destination is probed with its next event every `probeMs`, or at once on enable(); the first success
// makes it active again and it catches up in order. An event is delivered at least once: a crash after
// the receiver took it and before the cursor was stored sends it again, so receivers deduplicate by id.
//
// Wake-ups come from the bus (an event was published) and, as a fallback, from polling every `pollMs`.
// Several notifiers may share one store; only the one holding the store's delivery lease delivers (the
// service calls setActive), and on taking over it reads every position back from the store first.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '@deploybus/bus';
import type { Logger } from '@deploybus/runtime';
import type { DeliveryState, SubscriptionStore } from '@deploybus/store';
import type { Destination } from './destination.js';
import { DeliveryError } from './errors.js';
import type { EventLog, LogEvent } from './event-log.js';
import { eventTypeMatches } from './event-patterns.js';

export interface DeliveryOptions {
  readonly maxConcurrent: number;
  readonly pageSize: number;
  /** Attempts per event before the destination is marked failing. */
  readonly attempts: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** How often a failing destination is tried again. */
  readonly probeMs: number;
  readonly pollMs: number;
}

export interface DestinationStatus {
  readonly cursor: number;
  readonly state: DeliveryState;
  readonly failures: number;
  readonly lastError: string | undefined;
}

export interface DeliverySchedulerDeps {
  readonly store: SubscriptionStore;
  readonly log: EventLog;
  readonly logger: Logger;
  readonly options: DeliveryOptions;
  /** Told when a destination starts failing or recovers. Must not throw. */
  readonly onStateChange?: (destination: string, status: DestinationStatus) => void;
  /** Told of every attempt's outcome (for metrics). Must not throw. */
  readonly onAttempt?: (destination: string, outcome: 'delivered' | 'failed') => void;
}

interface Entry {
  readonly destination: Destination;
  status: DestinationStatus;
  running: Promise<void> | undefined;
  again: boolean;
  nextProbeAt: number;
  readonly abort: AbortController;
  removed: boolean;
}

/** Bounds the HTTP attempts in flight across all destinations. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(size: number) {
    this.#free = size;
  }
  async take(): Promise<() => void> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free += 1;
    };
  }
}

export class DeliveryScheduler {
  readonly #d: DeliverySchedulerDeps;
  readonly #entries = new Map<string, Entry>();
  readonly #slots: Slots;
  #head = 0;
  #pollTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #active = true;
  /** Cuts backoff sleeps short on stop; requests in flight are let finish (and their positions stored). */
  readonly #stopping = new AbortController();

  constructor(deps: DeliverySchedulerDeps) {
    this.#d = deps;
    this.#slots = new Slots(deps.options.maxConcurrent);
  }

  start(): void {
    this.#pollTimer = setInterval(() => this.wake(), this.#d.options.pollMs);
    this.#pollTimer.unref();
  }

  /**
   * Starts nothing new and waits for the requests in flight (each bounded by its timeout), so a notifier
   * that stops, e.g. handing over to another, never leaves a delivered event without its stored position.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#pollTimer !== undefined) clearInterval(this.#pollTimer);
    this.#stopping.abort();
    await Promise.allSettled([...this.#entries.values()].map((e) => e.running));
  }

  /**
   * Adds a destination at its stored position; one with no stored position (a notifier configured
   * since the last start) starts at the end of the log: it gets what happens from now on.
   */
  async add(destination: Destination): Promise<void> {
    let position = await this.#d.store.position(destination.id);
    if (position === undefined) {
      await this.#d.store.savePosition(destination.id, { cursor: await this.head(), state: 'active', failures: 0, at: new Date() });
      position = await this.#d.store.position(destination.id);
    }
    if (position === undefined) throw new Error(`no delivery position stored for ${destination.id}`);
    const previous = this.#entries.get(destination.id);
    if (previous !== undefined) {
      previous.removed = true;
      previous.abort.abort();
    }
    this.#entries.set(destination.id, {
      destination,
      status: { cursor: position.cursor, state: position.state, failures: position.failures, lastError: position.lastError },
      running: undefined,
      again: false,
      nextProbeAt: 0,
      abort: new AbortController(),
      removed: false,
    });
    this.#pump(destination.id);
  }

  /**
   * Delivers (true) or only keeps the list (false: another notifier holds the lease). Becoming active
   * reads every position back from the store, since the other notifier moved them on.
   */
  async setActive(active: boolean): Promise<void> {
    if (active === this.#active) return;
    this.#active = active;
    if (!active) return;
    for (const entry of this.#entries.values()) {
      const stored = await this.#d.store.position(entry.destination.id);
      if (stored !== undefined && entry.running === undefined) entry.status = { cursor: stored.cursor, state: stored.state, failures: stored.failures, lastError: stored.lastError };
    }
    this.wake();
  }

  get active(): boolean {
    return this.#active;
  }

  ids(): string[] {
    return [...this.#entries.keys()];
  }

  /** Stops delivering to a destination (its in-flight request is aborted). */
  remove(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    entry.removed = true;
    entry.abort.abort();
    this.#entries.delete(id);
  }

  /** Every destination's id and status. */
  statuses(): Array<{ id: string; status: DestinationStatus }> {
    return [...this.#entries.values()].map((e) => ({ id: e.destination.id, status: e.status }));
  }

  status(id: string): DestinationStatus | undefined {
    return this.#entries.get(id)?.status;
  }

  /** Something may have been added to the log: every destination looks. */
  wake(): void {
    for (const id of this.#entries.keys()) this.#pump(id);
  }

  /** A failing destination is tried again now. */
  enable(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    entry.nextProbeAt = 0;
    this.#pump(id);
    return true;
  }

  /** The seq of the newest event in the log (reading forward from the newest seen so far). */
  async head(): Promise<number> {
    let cursor = this.#head;
    for (;;) {
      const page = await this.#d.log.after(cursor, {}, 1000);
      if (page.events.length === 0 || page.cursor <= cursor) break;
      cursor = page.cursor;
    }
    this.#head = Math.max(this.#head, cursor);
    return this.#head;
  }

  #pump(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined || this.#stopped || !this.#active) return;
    if (entry.running !== undefined) {
      entry.again = true;
      return;
    }
    entry.running = (async () => {
      do {
        entry.again = false;
        await this.#drain(entry);
      } while (entry.again && !entry.removed && !this.#stopped);
    })()
      .catch((error: unknown) => this.#d.logger.error({ destination: id, err: errorText(error) }, 'delivery loop failed; the next wake-up tries again'))
      .finally(() => {
        entry.running = undefined;
      });
  }

  async #drain(entry: Entry): Promise<void> {
    const { destination } = entry;
    const { log, logger, options } = this.#d;
    while (!entry.removed && !this.#stopped && this.#active) {
      if (entry.status.state === 'failing' && Date.now() < entry.nextProbeAt) return;
      // Every event up to the newest seen so far was in the log before this query (seq order is commit
      // order), so an empty answer means none of them matches: the cursor may skip to it.
      const headBefore = this.#head;
      let page;
      try {
        page = await log.after(entry.status.cursor, destination.filter, options.pageSize);
      } catch (error) {
        logger.warn({ destination: destination.id, err: errorText(error) }, 'event log not readable now; delivery waits for the next wake-up');
        return;
      }
      for (const event of page.events) this.#head = Math.max(this.#head, event.seq);
      if (page.events.length === 0) {
        // Without this a destination whose filter rarely matches would have the conductor scan the same
        // non-matching events again on every wake-up.
        if (headBefore > entry.status.cursor && !entry.removed) await this.#advance(entry, headBefore);
        return;
      }
      for (const event of page.events) {
        if (entry.removed || this.#stopped) return;
        if (event.seq <= entry.status.cursor) continue;
        if (!matches(destination, event)) {
          await this.#advance(entry, event.seq);
          continue;
        }
        const failure = await this.#deliver(entry, event);
        if (failure !== undefined) {
          if (entry.removed || this.#stopped) return;
          const wasFailing = entry.status.state === 'failing';
          entry.status = { ...entry.status, state: 'failing', failures: entry.status.failures + 1, lastError: failure };
          entry.nextProbeAt = Date.now() + options.probeMs;
          await this.#save(entry);
          if (!wasFailing) {
            logger.warn({ destination: destination.id, eventId: event.id, seq: event.seq, err: failure }, 'deliveries failing; backlog kept, retried later');
            this.#d.onStateChange?.(destination.id, entry.status);
          }
          return;
        }
        const recovered = entry.status.state === 'failing';
        entry.status = { cursor: event.seq, state: 'active', failures: 0, lastError: undefined };
        await this.#save(entry);
        if (recovered) {
          logger.info({ destination: destination.id, seq: event.seq }, 'destination answers again; catching up');
          this.#d.onStateChange?.(destination.id, entry.status);
        }
      }
      if (page.events.length < options.pageSize) return;
    }
  }

  /** One event, with retries. Returns the last problem when it gives up, undefined when delivered. */
  async #deliver(entry: Entry, event: LogEvent): Promise<string | undefined> {
    const { options, logger } = this.#d;
    // A failing destination gets one try per probe; an active one the whole ladder.
    const attempts = entry.status.state === 'failing' ? 1 : options.attempts;
    let problem = 'not attempted';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (entry.removed || this.#stopped) return 'stopped';
      const release = await this.#slots.take();
      if (entry.removed || this.#stopped) {
        release();
        return 'stopped';
      }
      try {
        await entry.destination.deliver(event, attempt, entry.abort.signal);
        this.#d.onAttempt?.(entry.destination.id, 'delivered');
        return undefined;
      } catch (error) {
        this.#d.onAttempt?.(entry.destination.id, 'failed');
        problem = errorText(error);
        logger.debug({ destination: entry.destination.id, eventId: event.id, attempt, err: problem }, 'delivery attempt failed');
        if (error instanceof DeliveryError && !error.retriable) return problem;
      } finally {
        release();
      }
      if (attempt < attempts) {
        try {
          await sleep(backoffDelay(attempt, { initialMs: options.backoffMs, maxMs: options.maxBackoffMs }), undefined, { signal: AbortSignal.any([entry.abort.signal, this.#stopping.signal]) });
        } catch {
          return 'stopped';
        }
      }
    }
    return problem;
  }

  async #advance(entry: Entry, seq: number): Promise<void> {
    entry.status = { ...entry.status, cursor: seq };
    await this.#save(entry);
  }

  async #save(entry: Entry): Promise<void> {
    if (entry.removed) return;
    const s = entry.status;
    await this.#d.store.savePosition(entry.destination.id, { cursor: s.cursor, state: s.state, failures: s.failures, lastError: s.lastError, at: new Date() });
  }
}

function matches(destination: Destination, event: LogEvent): boolean {
  const f = destination.filter;
  if (f.app !== undefined && event.app !== f.app) return false;
  if (f.env !== undefined && event.env !== f.env) return false;
  return f.types.length === 0 || eventTypeMatches(f.types, event.type);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
