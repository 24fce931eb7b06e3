// keepalive: listens to every daemon's heartbeat, keeps the roster of who is alive and what version
// each runs, publishes presence.changed when a daemon appears, goes silent or comes back, and answers
// roster.query.
//
// Several keepalive instances may run. Each needs every heartbeat to keep a whole roster, so each has
// its own private subscription (a shared work queue would split the heartbeats between them). There is
// no election: every instance publishes the changes it sees, naming itself as `observer`, and receivers
// treat presence.changed as state keyed by (service, host, instance), dropping repeats of the same
// (instance, state, lastSeen); lastSeen is the heartbeat's own time, so instances agree on it. An
// election would need a lease and a hand-over, and for the few seconds of a hand-over nobody would
// watch; two reports of one outage are cheaper than none. Each instance also answers every
// roster.query; a client names the keepalive host it wants in `expect` (replies name their source).
import { Gauge } from 'prom-client';
import { z } from 'zod';
import { isMessageOfType, type Message } from '@deploybus/protocol';
import type { Bus, Subscription } from '@deploybus/bus';
import { daemonConfigSchema, type DaemonDefinition, type Logger, type RunningDaemon } from '@deploybus/runtime';
import { DEFAULT_MAX_ENTRIES, fitEntries, Roster, type Clock, type PresenceChange, type RosterOptions } from './roster.js';

export const KEEPALIVE_VERSION = '0.1.0';

export const keepaliveConfigSchema = daemonConfigSchema({
  /** A daemon is down after this many of its own heartbeat intervals of silence. */
  timeoutMultiplier: z.number().min(1).max(1000).default(3),
  /** The timeout is never shorter than this. */
  minTimeoutMs: z.number().int().min(0).max(86_400_000).default(5_000),
  /** A down daemon is dropped from the roster this long after its last heartbeat. */
  retentionMs: z.number().int().min(0).max(366 * 86_400_000).default(86_400_000),
  /** How often the roster is checked for silent daemons. */
  checkIntervalMs: z.number().int().min(10).max(60_000).default(1_000),
  /** The most daemon instances tracked; beyond it the longest-down entry makes room, and with none down a new one is not tracked. */
  maxEntries: z.number().int().min(1).max(1_000_000).default(DEFAULT_MAX_ENTRIES),
});

export type KeepaliveConfig = z.output<typeof keepaliveConfigSchema>;

export interface PresenceMonitorOptions extends RosterOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  /** This keepalive instance, reported as `observer`. */
  readonly observer: string;
  readonly checkIntervalMs: number;
  readonly clock?: Clock;
}

/** The running part of keepalive: subscriptions, the check timer, and publishing what changed. */
export class PresenceMonitor {
  readonly roster: Roster;
  private readonly subscriptions: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Publishes in the order the changes happened; failures are logged, never thrown at the caller. */
  private outgoing: Promise<void> = Promise.resolve();
  private stopped = false;
  private stopWatchingBus: (() => void) | undefined;

  constructor(private readonly options: PresenceMonitorOptions) {
    this.roster = new Roster(options, options.clock ?? Date.now);
  }

  async start(): Promise<void> {
    const { bus, logger } = this.options;
    // While keepalive's own connection is down it hears nobody; that silence is not the daemons'.
    this.stopWatchingBus = bus.onStateChange((state) => {
      if (state === 'connected') {
        if (this.roster.paused) logger.info({}, 'bus connection back; timeouts resume');
        this.roster.resume();
      } else if (state === 'reconnecting') {
        logger.warn({}, 'bus connection lost; timeouts paused until it is back');
        this.roster.pause();
      }
    });
    this.subscriptions.push(await bus.subscribe({ patterns: ['heartbeat.#'], prefetch: 256 }, (message) => this.onHeartbeat(message)));
    this.subscriptions.push(await bus.subscribe({ patterns: ['roster.query'] }, (message) => this.onQuery(message)));
    this.timer = setInterval(() => this.check(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.stopWatchingBus?.();
    await Promise.allSettled(this.subscriptions.map((s) => s.unsubscribe()));
    await this.outgoing;
  }

  /** Runs one timeout and retention pass (the timer calls it; tests may too). */
  check(): void {
    if (this.stopped) return;
    this.announce(this.roster.check());
  }

  private onHeartbeat(message: Message): void {
    if (!isMessageOfType(message, 'heartbeat')) {
      this.options.logger.warn({ id: message.id, type: message.type }, 'not a heartbeat on a heartbeat routing key; ignored');
      return;
    }
    const refusedBefore = this.roster.refused;
    this.announce(this.roster.observe(message.payload, message.time));
    if (this.roster.refused > refusedBefore) this.warnFull(message);
  }

  private lastFullWarning: number | undefined;

  /** At most once a minute: the roster is full of live instances and a new one was not tracked. */
  private warnFull(message: Message<'heartbeat'>): void {
    const now = (this.options.clock ?? Date.now)();
    if (this.lastFullWarning !== undefined && now - this.lastFullWarning < 60_000) return;
    this.lastFullWarning = now;
    const { service, host, instance } = message.payload;
    this.options.logger.warn(
      { service, host, instance, from: message.source, tracked: this.roster.size, refused: this.roster.refused },
      `roster full: ${this.roster.size} live instances (maxEntries); ${service} on ${host} (instance ${instance}) is not tracked. Raise maxEntries if the fleet is that big, or find who sends heartbeats of made-up instances`,
    );
  }

  private async onQuery(message: Message): Promise<void> {
    const { bus, logger } = this.options;
    if (!isMessageOfType(message, 'roster.query')) {
      logger.warn({ id: message.id, type: message.type }, 'not a roster.query on the roster.query routing key; ignored');
      return;
    }
    if (message.replyTo === undefined) {
      logger.warn({ id: message.id, from: message.source }, 'roster.query without replyTo; nobody to answer');
      return;
    }
    const { service, host } = message.payload;
    const { entries, truncated } = fitEntries(this.roster.entries({ service, host }));
    if (truncated) logger.warn({ id: message.id, sent: entries.length }, 'roster reply truncated to fit one message; narrow the query by service or host');
    const reply = bus.message('roster.reply', { entries, observer: this.options.observer, ...(truncated ? { truncated } : {}) }, { correlationId: message.id });
    // A failed reply is worth a redelivery of the query: throwing hands it back to the bus.
    await bus.reply(message, reply);
  }

  private announce(changes: readonly PresenceChange[]): void {
    const { bus, logger, observer } = this.options;
    for (const c of changes) {
      // Nested, so the daemon's service and host do not shadow keepalive's own in the log line.
      const fields = { daemon: { service: c.service, host: c.host, instance: c.instance }, state: c.state, lastSeen: c.lastSeen, reason: c.reason };
      if (c.state === 'down') logger.warn(fields, `${c.service} on ${c.host} is down (${c.reason === 'replaced' ? 'replaced by a newer instance' : 'silent past its timeout'})`);
      else logger.info(fields, `${c.service} on ${c.host} is up`);
      const message = bus.message('presence.changed', { service: c.service, host: c.host, instance: c.instance, state: c.state, lastSeen: c.lastSeen, observer });
      this.outgoing = this.outgoing.then(() =>
        bus.publish(message).catch((error: unknown) => {
          logger.error({ ...fields, err: error instanceof Error ? error.message : String(error) }, 'presence.changed not published');
        }),
      );
    }
  }
}

export const keepaliveDaemon: DaemonDefinition<typeof keepaliveConfigSchema> = {
  service: 'keepalive',
  version: KEEPALIVE_VERSION,
  configSchema: keepaliveConfigSchema,
  async start(context): Promise<RunningDaemon> {
    const { config } = context;
    const monitor = new PresenceMonitor({
      bus: context.bus,
      logger: context.logger,
      observer: context.instance,
      timeoutMultiplier: config.timeoutMultiplier,
      minTimeoutMs: config.minTimeoutMs,
      retentionMs: config.retentionMs,
      checkIntervalMs: config.checkIntervalMs,
      maxEntries: config.maxEntries,
    });
    await monitor.start();
    // What the roster holds, by service and state, for alerts on how many agents (or any daemons) are up.
    new Gauge({
      name: 'deploybus_daemons',
      help: "Daemons in keepalive's roster, by service and presence state (up or down).",
      labelNames: ['daemon_service', 'state'],
      registers: [context.metrics.registry],
      collect() {
        this.reset();
        for (const entry of monitor.roster.entries()) this.inc({ daemon_service: entry.service, state: entry.state });
      },
    });
    context.logger.info(
      { timeoutMultiplier: config.timeoutMultiplier, minTimeoutMs: config.minTimeoutMs, retentionMs: config.retentionMs, checkIntervalMs: config.checkIntervalMs },
      'watching heartbeats',
    );
    return { stop: () => monitor.stop() };
  },
};
