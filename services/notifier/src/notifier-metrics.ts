// The notifier's Prometheus metrics, by kind of destination (webhook, slack, github, jenkins; never by
// subscription, which would grow without bound): attempts by outcome, destinations by state, and
// whether this notifier holds the delivery lease. prom-client is loaded only when metrics are served.
import type { DaemonMetrics } from '@deploybus/runtime';
import type { DeliveryScheduler } from './delivery-scheduler.js';

/** "sub-…" -> webhook, "slack:ops" -> slack. */
export function destinationKind(id: string): string {
  return id.startsWith('sub-') ? 'webhook' : (id.split(':')[0] ?? 'other');
}

export interface NotifierMetrics {
  attempt(destination: string, outcome: 'delivered' | 'failed'): void;
}

export async function notifierMetrics(metrics: DaemonMetrics, scheduler: () => DeliveryScheduler | undefined): Promise<NotifierMetrics> {
  const { Counter, Gauge } = await import('prom-client');
  const registers = [metrics.registry];
  const attempts = new Counter({ name: 'deploybus_notifier_attempts_total', help: 'Delivery attempts by kind of destination and outcome (delivered, failed).', labelNames: ['kind', 'outcome'], registers });
  new Gauge({
    name: 'deploybus_notifier_destinations',
    help: 'Destinations by kind and state (active, failing); alert on failing > 0.',
    labelNames: ['kind', 'state'],
    registers,
    collect() {
      this.reset();
      for (const { id, status } of scheduler()?.statuses() ?? []) this.inc({ kind: destinationKind(id), state: status.state });
    },
  });
  new Gauge({
    name: 'deploybus_notifier_delivering',
    help: '1 when this notifier holds the delivery lease (delivers), 0 when it stands by.',
    registers,
    collect() {
      this.set(scheduler()?.active === true ? 1 : 0);
    },
  });
  return { attempt: (destination, outcome) => attempts.inc({ kind: destinationKind(destination), outcome }) };
}
