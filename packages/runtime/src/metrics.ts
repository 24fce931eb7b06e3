// Prometheus metrics every daemon has: bus traffic by type and outcome, handler time, reconnects and
// connection state. Daemons add their own to `registry`.
// prom-client (about 10 MB of a process) is loaded when `registry` is first read: by the health
// server when `health.port` is set, or by a daemon that adds its own metrics. Until then the bus's
// counts are kept in plain maps (and the first handler times in a bounded list), so the counters
// miss nothing from before; a daemon that never exposes metrics, like an idle deploy-agent, never loads it.
import { createRequire } from 'node:module';
import type { Histogram, Registry } from 'prom-client';
import type { Bus, BusObserver } from '@deploybus/bus';

export interface DaemonMetrics {
  /** Created (and prom-client loaded) on first read. */
  readonly registry: Registry;
  /** Pass to connectBus so the bus reports into these metrics. */
  readonly observer: BusObserver;
  /** Follows a bus's connection state (connected gauge, reconnect counter). */
  trackBus(bus: Bus): void;
}

const requireCjs = createRequire(import.meta.url);
/** Handler times kept before the registry exists (more than a daemon handles before it builds one; later ones are not kept). */
const MAX_PENDING_TIMES = 1_000;

export function createMetrics(service: string): DaemonMetrics {
  const published = new Map<string, number>();
  const delivered = new Map<string, { type: string; outcome: string; count: number }>();
  const redelivered = new Map<string, number>();
  const pendingTimes: { type: string; seconds: number }[] = [];
  let reconnects = 0;
  let connected = 0;
  let handlerSeconds: Histogram | undefined;
  let registry: Registry | undefined;
  const bump = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);

  const build = (): Registry => {
    const prom = requireCjs('prom-client') as typeof import('prom-client');
    const created = new prom.Registry();
    created.setDefaultLabels({ service });
    prom.collectDefaultMetrics({ register: created });
    // Counters read the plain counts at each scrape, so they include what happened before `build`.
    new prom.Counter({
      name: 'deploybus_messages_published_total',
      help: 'Messages this daemon published, by type.',
      labelNames: ['type'],
      registers: [created],
      collect() {
        this.reset();
        for (const [type, count] of published) this.inc({ type }, count);
      },
    });
    new prom.Counter({
      name: 'deploybus_messages_delivered_total',
      help: 'Deliveries this daemon settled, by type and outcome (handled, retried, dead-lettered, expired, unreadable).',
      labelNames: ['type', 'outcome'],
      registers: [created],
      collect() {
        this.reset();
        for (const { type, outcome, count } of delivered.values()) this.inc({ type, outcome }, count);
      },
    });
    new prom.Counter({
      name: 'deploybus_redeliveries_total',
      help: 'Deliveries the broker marked as redelivered.',
      labelNames: ['type'],
      registers: [created],
      collect() {
        this.reset();
        for (const [type, count] of redelivered) this.inc({ type }, count);
      },
    });
    const histogram = new prom.Histogram({
      name: 'deploybus_handler_duration_seconds',
      help: 'Time spent in message handlers, by type.',
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60],
      registers: [created],
    });
    for (const { type, seconds } of pendingTimes.splice(0)) histogram.observe({ type }, seconds);
    handlerSeconds = histogram;
    new prom.Counter({
      name: 'deploybus_bus_reconnects_total',
      help: 'Times the bus connection was lost and re-established.',
      registers: [created],
      collect() {
        this.reset();
        this.inc(reconnects);
      },
    });
    new prom.Gauge({
      name: 'deploybus_bus_connected',
      help: '1 while connected to the bus, else 0.',
      registers: [created],
      collect() {
        this.set(connected);
      },
    });
    return created;
  };

  return {
    get registry(): Registry {
      return (registry ??= build());
    },
    observer: {
      published: (type) => bump(published, type),
      delivered: (report) => {
        const type = report.type ?? 'unreadable';
        const key = `${type}\u0000${report.outcome}`;
        const entry = delivered.get(key);
        if (entry === undefined) delivered.set(key, { type, outcome: report.outcome, count: 1 });
        else entry.count += 1;
        if (report.redelivered) bump(redelivered, type);
        if (report.handlerMs === undefined) return;
        if (handlerSeconds !== undefined) handlerSeconds.observe({ type }, report.handlerMs / 1000);
        else if (pendingTimes.length < MAX_PENDING_TIMES) pendingTimes.push({ type, seconds: report.handlerMs / 1000 });
      },
    },
    trackBus(bus) {
      connected = bus.state === 'connected' ? 1 : 0;
      let lost = false;
      bus.onStateChange((state) => {
        connected = state === 'connected' ? 1 : 0;
        if (state === 'reconnecting') lost = true;
        if (state === 'connected' && lost) {
          lost = false;
          reconnects += 1;
        }
      });
    },
  };
}
