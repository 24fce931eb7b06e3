// Heartbeats on both wire transports: a connection that goes silent (no FIN, no RST) is noticed
// and replaced by the client on its own, and the subscription works again afterwards.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '@deploybus/protocol';
import { connectBus, type Bus } from '../src/index.js';
import { CaptureLogger } from './support/capture-logger.js';
import { requireRabbit } from './support/rabbit-harness.js';
import { FreezingProxy } from './support/tcp-proxy.js';
import { randomName, waitFor } from './support/wait-for.js';

const HEARTBEAT_MS = 1_000;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(requireRabbit);
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

describe.each([
  ['stomp', 61613],
  ['amqp', 5672],
] as const)('%s heartbeats', (transport, port) => {
  it('notice a silent peer and reconnect, with the subscription restored', async () => {
    const proxy = new FreezingProxy(port);
    await proxy.start();
    cleanup.push(() => proxy.stop());
    const url = `${transport}://guest:guest@127.0.0.1:${proxy.port}`;
    const logger = new CaptureLogger();
    const bus: Bus = await connectBus(url, { service: 'hb-test', host: 'hb-host', logger, heartbeatMs: HEARTBEAT_MS, reconnect: { initialMs: 100, maxMs: 500 } });
    cleanup.push(() => bus.close());
    const word = randomName('hb').replace(/[^a-z0-9]/g, '');
    const got: Message[] = [];
    await bus.subscribe({ patterns: [`heartbeat.${word}.#`] }, (m) => void got.push(m));

    const frozenAt = Date.now();
    proxy.freeze();
    // Nothing is closed; only missing heartbeats can tell the client the peer is gone.
    await waitFor('the client to declare the silent connection lost', () => bus.state === 'reconnecting', 20 * HEARTBEAT_MS);
    const noticedAfterMs = Date.now() - frozenAt;
    expect(logger.lines.some((l) => l.msg === 'bus connection lost; reconnecting')).toBe(true);
    console.log(`${transport}: silent peer noticed after ${noticedAfterMs} ms with ${HEARTBEAT_MS} ms heartbeats`);

    proxy.thaw();
    await waitFor('the client to reconnect', () => bus.state === 'connected', 30_000);
    const m = bus.message('heartbeat', { service: word, host: 'h1', instance: 'i', version: '1', uptimeMs: 1, intervalMs: 1000 });
    await bus.publish(m);
    await waitFor('the restored subscription to receive', () => got.some((g) => g.id === m.id));
  });
});
