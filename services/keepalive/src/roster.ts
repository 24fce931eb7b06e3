// The presence roster: who sent heartbeats, when, and whether they are still alive. Pure: time comes
// from an injected clock, and what changed is returned for the caller to publish.
//
// Two clocks are involved, on purpose. Timeouts run on this process's clock (`heardAt`), so a daemon
// whose clock is off is still judged by how long keepalive has not heard from it. The times reported
// (`firstSeen`, `lastSeen`) are the heartbeats' own `time`: every keepalive instance that saw the same
// heartbeat reports the same lastSeen, which lets receivers drop the repeats (see docs/keepalive.md),
// and two instances on one host compare on that host's one clock when telling a restart apart.
import { MAX_BODY_BYTES, type PayloadOf } from '@deploybus/protocol';

export type HeartbeatPayload = PayloadOf<'heartbeat'>;
export type RosterEntry = PayloadOf<'roster.reply'>['entries'][number];
export type PresenceState = RosterEntry['state'];

export interface RosterOptions {
  /** A daemon is down after this many of its own heartbeat intervals without a heartbeat. */
  readonly timeoutMultiplier: number;
  /** The timeout is never shorter than this, so a tiny interval does not turn a hiccup into an outage. */
  readonly minTimeoutMs: number;
  /** A down entry is forgotten this long after its last heartbeat. */
  readonly retentionMs: number;
  /**
   * The most instances tracked (default 10,000). A new one beyond it takes the place of the down entry
   * heard from longest ago; with none down, it is not tracked (counted in `refused`). Heartbeats are
   * any bus client's to send: without a bound, one sending made-up instances would grow this forever.
   */
  readonly maxEntries?: number;
  /**
   * After keepalive's own outage, how long daemons get to be heard again before any is reported down:
   * they most likely lost the broker too and come back on their own reconnect backoff (default 15 s,
   * the bus's longest backoff).
   */
  readonly reconnectGraceMs?: number;
}

export const DEFAULT_MAX_ENTRIES = 10_000;

/** The bus's longest reconnect backoff: a daemon cut off with keepalive is back within about this long. */
export const DEFAULT_RECONNECT_GRACE_MS = 15_000;

/** Milliseconds since the epoch, now. */
export type Clock = () => number;

export interface PresenceChange {
  readonly service: string;
  readonly host: string;
  readonly instance: string;
  readonly state: PresenceState;
  /** Time of the last heartbeat (the heartbeat's own `time`). */
  readonly lastSeen: string;
  /** Why, for the log. */
  readonly reason: 'appeared' | 'returned' | 'timed-out' | 'replaced';
}

export interface RosterFilter {
  readonly service?: string | undefined;
  readonly host?: string | undefined;
}

interface Tracked {
  readonly service: string;
  readonly host: string;
  readonly instance: string;
  version: string;
  uptimeMs: number;
  intervalMs: number;
  apps: HeartbeatPayload['apps'];
  state: PresenceState;
  readonly firstSeen: string;
  readonly firstSeenMs: number;
  lastSeen: string;
  lastSeenMs: number;
  /** This process's clock when the last heartbeat arrived. */
  heardAt: number;
}

/**
 * A daemon replaced by a newer instance of the same service on the same host (a restart) is down once
 * it has missed one heartbeat, with half an interval of slack, instead of waiting the full timeout. Two
 * instances that really run side by side keep beating, so neither is ever taken for replaced.
 */
const REPLACED_AFTER_INTERVALS = 1.5;

export class Roster {
  private readonly tracked = new Map<string, Tracked>();
  private pausedAt: number | undefined;
  /** Heartbeats of new instances not tracked because the roster was full of live ones. */
  refused = 0;

  constructor(
    private readonly options: RosterOptions,
    private readonly now: Clock,
  ) {}

  /** Records a heartbeat sent at `sentAt` (its message's `time`); returns 'up' when the instance is new or was down. */
  observe(heartbeat: HeartbeatPayload, sentAt: string): PresenceChange[] {
    const sentMs = Date.parse(sentAt);
    const key = keyOf(heartbeat);
    const known = this.tracked.get(key);
    if (known === undefined) {
      if (this.tracked.size >= (this.options.maxEntries ?? DEFAULT_MAX_ENTRIES) && !this.forgetLongestDown()) {
        this.refused += 1;
        return [];
      }
      this.tracked.set(key, {
        service: heartbeat.service,
        host: heartbeat.host,
        instance: heartbeat.instance,
        version: heartbeat.version,
        uptimeMs: heartbeat.uptimeMs,
        intervalMs: heartbeat.intervalMs,
        apps: heartbeat.apps,
        state: 'up',
        firstSeen: sentAt,
        firstSeenMs: sentMs,
        lastSeen: sentAt,
        lastSeenMs: sentMs,
        heardAt: this.now(),
      });
      return [change(heartbeat, 'up', sentAt, 'appeared')];
    }
    // A heartbeat no newer than the last one (a redelivery, or one overtaken on the way) says nothing
    // new; above all it must not bring a daemon that has since gone down back up.
    if (!(sentMs > known.lastSeenMs)) return [];
    known.version = heartbeat.version;
    known.uptimeMs = heartbeat.uptimeMs;
    known.intervalMs = heartbeat.intervalMs;
    known.apps = heartbeat.apps;
    known.lastSeen = sentAt;
    known.lastSeenMs = sentMs;
    known.heardAt = this.now();
    if (known.state === 'up') return [];
    known.state = 'up';
    return [change(known, 'up', sentAt, 'returned')];
  }

  /**
   * Stops the clock for every daemon while keepalive itself cannot hear anyone (its bus connection is
   * down): silence then says nothing about the daemons, and counting it would report the whole fleet
   * down at once.
   */
  pause(): void {
    this.pausedAt ??= this.now();
  }

  /**
   * Starts the clock again. The time spent paused is not counted as anyone's silence, and nobody is
   * reported down before the reconnect grace has passed: the daemons reconnect on their own backoff.
   */
  resume(): void {
    if (this.pausedAt === undefined) return;
    const now = this.now();
    const pausedFor = Math.max(0, now - this.pausedAt);
    this.pausedAt = undefined;
    const grace = this.options.reconnectGraceMs ?? DEFAULT_RECONNECT_GRACE_MS;
    for (const entry of this.tracked.values()) entry.heardAt = Math.max(entry.heardAt + pausedFor, now + grace - this.timeoutOf(entry));
  }

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  /** Marks the silent down (each once) and forgets down entries past retention; call it on a timer. Does nothing while paused. */
  check(): PresenceChange[] {
    if (this.pausedAt !== undefined) return [];
    const now = this.now();
    const changes: PresenceChange[] = [];
    for (const entry of this.tracked.values()) {
      if (entry.state !== 'up') continue;
      const silentMs = now - entry.heardAt;
      if (silentMs > this.timeoutOf(entry)) {
        entry.state = 'down';
        changes.push(change(entry, 'down', entry.lastSeen, 'timed-out'));
      } else if (silentMs > entry.intervalMs * REPLACED_AFTER_INTERVALS && this.hasSuccessor(entry)) {
        entry.state = 'down';
        changes.push(change(entry, 'down', entry.lastSeen, 'replaced'));
      }
    }
    for (const [key, entry] of this.tracked) {
      if (entry.state === 'down' && now - entry.heardAt > this.options.retentionMs) this.tracked.delete(key);
    }
    return changes;
  }

  /** The roster, sorted by service, host and instance. */
  entries(filter: RosterFilter = {}): RosterEntry[] {
    const rows: RosterEntry[] = [];
    for (const e of this.tracked.values()) {
      if (filter.service !== undefined && e.service !== filter.service) continue;
      if (filter.host !== undefined && e.host.toLowerCase() !== filter.host.toLowerCase()) continue;
      rows.push({
        service: e.service,
        host: e.host,
        instance: e.instance,
        version: e.version,
        state: e.state,
        firstSeen: e.firstSeen,
        lastSeen: e.lastSeen,
        uptimeMs: e.uptimeMs,
        intervalMs: e.intervalMs,
        ...(e.apps === undefined ? {} : { apps: e.apps }),
      });
    }
    return rows.sort((a, b) => compare(a.service, b.service) || compare(a.host, b.host) || compare(a.instance, b.instance));
  }

  /** Forgets the down entry heard from longest ago, to make room; false when none is down. */
  private forgetLongestDown(): boolean {
    let oldest: [string, Tracked] | undefined;
    for (const item of this.tracked) if (item[1].state === 'down' && (oldest === undefined || item[1].heardAt < oldest[1].heardAt)) oldest = item;
    if (oldest === undefined) return false;
    this.tracked.delete(oldest[0]);
    return true;
  }

  get size(): number {
    return this.tracked.size;
  }

  /** How long an instance may stay silent before it counts as down. */
  timeoutOf(entry: { readonly intervalMs: number }): number {
    return Math.max(entry.intervalMs * this.options.timeoutMultiplier, this.options.minTimeoutMs);
  }

  /** A newer instance of the same service on the same host, up, that started after this one's last heartbeat. */
  private hasSuccessor(entry: Tracked): boolean {
    for (const other of this.tracked.values()) {
      if (other !== entry && other.state === 'up' && other.service === entry.service && other.host.toLowerCase() === entry.host.toLowerCase() && other.firstSeenMs > entry.lastSeenMs) return true;
    }
    return false;
  }
}

/** Room kept for the envelope and the reply's other fields. */
const REPLY_OVERHEAD_BYTES = 16 * 1024;

/**
 * The entries that fit in one message under the body size limit, in order; `truncated` says some were
 * left out (a narrower query gets the rest).
 */
export function fitEntries(entries: readonly RosterEntry[], maxBodyBytes: number = MAX_BODY_BYTES): { entries: RosterEntry[]; truncated: boolean } {
  const budget = maxBodyBytes - REPLY_OVERHEAD_BYTES;
  let used = 2;
  const kept: RosterEntry[] = [];
  for (const entry of entries) {
    used += Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (used > budget) return { entries: kept, truncated: true };
    kept.push(entry);
  }
  return { entries: kept, truncated: false };
}

function keyOf(id: { readonly service: string; readonly host: string; readonly instance: string }): string {
  // Host names are case-insensitive; services and instances are compared as given.
  return JSON.stringify([id.service, id.host.toLowerCase(), id.instance]);
}

function change(id: { readonly service: string; readonly host: string; readonly instance: string }, state: PresenceState, lastSeen: string, reason: PresenceChange['reason']): PresenceChange {
  return { service: id.service, host: id.host, instance: id.instance, state, lastSeen, reason };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
