// A daemon's /metrics and /readyz on the real RabbitMQ, over AMQP and STOMP: counters move when
// messages flow, and /readyz answers 503 while the broker is down and 200 again once the daemon has
// reconnected by itself. THIS FILE STOPS THE SHARED BROKER (rabbitmqctl stop_app, then start_app),
// as the bus's own restart tests do: run it only when no other test run uses RabbitMQ.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { daemonConfigSchema, startDaemon, type DaemonDefinition, type DaemonHandle } from '../src/index.js';
import { AMQP_URL, rabbitHarness, requireRabbit, STOMP_URL } from '../../bus/test/support/rabbit-harness.js';
import { randomName, waitFor } from '../../bus/test/support/wait-for.js';

const schema = daemonConfigSchema({});
const repo = randomName('ready').replace(/-/g, '_');

/** A daemon that counts the commit.pushed events of one repository. */
function counter(service: string, seen: string[]): DaemonDefinition<typeof schema> {
  return {
    service,
    version: '0.0.1',
    configSchema: schema,
    async start(ctx) {
      const subscription = await ctx.bus.subscribe({ patterns: [`commit.pushed.${repo}`] }, (message) => void seen.push(message.id));
      return { stop: () => subscription.unsubscribe() };
    },
  };
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

/** The value of one Prometheus sample whose labels include all of `labels` (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

const transports = [
  { name: 'amqp', url: AMQP_URL },
  { name: 'stomp', url: STOMP_URL },
] as const;
const daemons = new Map<string, { handle: DaemonHandle; seen: string[]; port: number }>();
let publisher: Bus | undefined;

beforeAll(async () => {
  await requireRabbit();
  for (const transport of transports) {
    const seen: string[] = [];
    const service = `readiness-${transport.name}`;
    const handle = await startDaemon(counter(service, seen), {
      env: { DEPLOYBUS_BUS_URL: transport.url, DEPLOYBUS_HOST: 'ops1', DEPLOYBUS_HEALTH_PORT: '0', DEPLOYBUS_LOG_LEVEL: 'silent' },
    });
    const port = handle.health?.port;
    if (port === undefined) throw new Error('DEPLOYBUS_HEALTH_PORT=0 should open a health server on a free port');
    daemons.set(transport.name, { handle, seen, port });
  }
  publisher = await connectBus(AMQP_URL, { service: 'readiness-publisher', host: 'ops1', reconnect: { initialMs: 100, maxMs: 1_000 } });
});

afterAll(async () => {
  for (const { handle } of daemons.values()) await handle.stop();
  await publisher?.close();
});

async function publishPushes(count: number): Promise<void> {
  if (!publisher) throw new Error('no publisher');
  for (let i = 0; i < count; i += 1) {
    await publisher.publish(publisher.message('commit.pushed', { repo, ref: 'refs/heads/main', before: '0'.repeat(40), after: 'b'.repeat(40), commits: [], pusher: 'ada', origin: 'poll' }));
  }
}

describe('a daemon\'s health endpoints on the real broker', () => {
  it.each(transports.map((t) => t.name))('%s: /metrics counts deliveries, handler time and its own heartbeats as messages flow', async (name) => {
    const daemon = daemons.get(name);
    if (!daemon) throw new Error(`no ${name} daemon`);
    const labels = { type: 'commit.pushed', outcome: 'handled' };
    const before = sample((await get(daemon.port, '/metrics')).text, 'deploybus_messages_delivered_total', labels);
    const seenBefore = daemon.seen.length;
    await publishPushes(3);
    await waitFor('three deliveries', () => daemon.seen.length === seenBefore + 3);
    const metrics = await get(daemon.port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(sample(metrics.text, 'deploybus_messages_delivered_total', labels) - before).toBe(3);
    expect(sample(metrics.text, 'deploybus_handler_duration_seconds_count', { type: 'commit.pushed' })).toBeGreaterThanOrEqual(3);
    expect(sample(metrics.text, 'deploybus_messages_published_total', { type: 'heartbeat' })).toBeGreaterThanOrEqual(1);
    expect(sample(metrics.text, 'deploybus_bus_connected', { service: `readiness-${name}` })).toBe(1);
    expect((await get(daemon.port, '/readyz')).status).toBe(200);
    expect((await get(daemon.port, '/healthz')).status).toBe(200);
  });

  it('/readyz turns 503 while the broker is stopped, and 200 again after it starts; the daemon resubscribes by itself', async () => {
    const harness = rabbitHarness('amqp');
    try {
      await harness.restartBroker(async () => {
        for (const [name, daemon] of daemons) {
          await waitFor(`${name}: /readyz 503 while the broker is down`, async () => (await get(daemon.port, '/readyz')).status === 503, 30_000);
          const ready = JSON.parse((await get(daemon.port, '/readyz')).text) as { status: string; reason?: string };
          expect(ready).toEqual({ status: 'not ready', reason: expect.stringMatching(/^bus is (reconnecting|connecting)$/) as unknown });
          // Alive all the same: /healthz is the process, not the broker.
          expect((await get(daemon.port, '/healthz')).status).toBe(200);
          expect(sample((await get(daemon.port, '/metrics')).text, 'deploybus_bus_connected', { service: `readiness-${name}` })).toBe(0);
        }
      });
      for (const [name, daemon] of daemons) {
        await waitFor(`${name}: /readyz 200 after the broker is back`, async () => (await get(daemon.port, '/readyz')).status === 200, 60_000);
        const metrics = (await get(daemon.port, '/metrics')).text;
        expect(sample(metrics, 'deploybus_bus_reconnects_total', { service: `readiness-${name}` })).toBeGreaterThanOrEqual(1);
      }
      // The daemons resubscribed by themselves: a new event reaches both.
      const counts = [...daemons.values()].map((d) => d.seen.length);
      await publishPushes(1);
      for (const [index, daemon] of [...daemons.values()].entries()) await waitFor('the event after the restart', () => daemon.seen.length === (counts[index] ?? 0) + 1, 30_000);
    } finally {
      await harness.close();
    }
  });
});
