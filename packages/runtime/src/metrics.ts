// Prometheus metrics every daemon has: bus traffic by type and outcome, handler time, reconnects and
// connection state. Daemons add their own to `registry`.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Bus, BusObserver } from '@deploybus/bus';

export interface DaemonMetrics {
  readonly registry: Registry;
  /** Pass to connectBus so the bus reports into these metrics. */
  readonly observer: BusObserver;
  /** Follows a bus's connection state (connected gauge, reconnect counter). */
  trackBus(bus: Bus): void;
}

export function createMetrics(service: string): DaemonMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const published = new Counter({ name: 'deploybus_messages_published_total', help: 'Messages this daemon published, by type.', labelNames: ['type'], registers: [registry] });
  const delivered = new Counter({
    name: 'deploybus_messages_delivered_total',
    help: 'Deliveries this daemon settled, by type and outcome (handled, retried, dead-lettered, expired, unreadable).',
    labelNames: ['type', 'outcome'],
    registers: [registry],
  });
  const redelivered = new Counter({ name: 'deploybus_redeliveries_total', help: 'Deliveries the broker marked as redelivered.', labelNames: ['type'], registers: [registry] });
  const handlerSeconds = new Histogram({
    name: 'deploybus_handler_duration_seconds',
    help: 'Time spent in message handlers, by type.',
    labelNames: ['type'],
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60],
    registers: [registry],
  });
  const reconnects = new Counter({ name: 'deploybus_bus_reconnects_total', help: 'Times the bus connection was lost and re-established.', registers: [registry] });
  const connected = new Gauge({ name: 'deploybus_bus_connected', help: '1 while connected to the bus, else 0.', registers: [registry] });
  return {
    registry,
    observer: {
      published: (type) => published.inc({ type }),
      delivered: (report) => {
        const type = report.type ?? 'unreadable';
        delivered.inc({ type, outcome: report.outcome });
        if (report.redelivered) redelivered.inc({ type });
        if (report.handlerMs !== undefined) handlerSeconds.observe({ type }, report.handlerMs / 1000);
      },
    },
    trackBus(bus) {
      connected.set(bus.state === 'connected' ? 1 : 0);
      let lost = false;
      bus.onStateChange((state) => {
        connected.set(state === 'connected' ? 1 : 0);
        if (state === 'reconnecting') lost = true;
        if (state === 'connected' && lost) {
          lost = false;
          reconnects.inc();
        }
      });
    },
  };
}
