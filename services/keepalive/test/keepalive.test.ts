// keepalive on the in-memory bus with real daemons from @deploybus/runtime: the roster over
// roster.query, and presence.changed when a daemon stops.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, memoryBroker, type Bus } from '@deploybus/bus';
import { isMessageOfType, type Message } from '@deploybus/protocol';
import { ConfigError, daemonConfigSchema, loadConfig, startDaemon, type DaemonDefinition, type DaemonHandle } from '@deploybus/runtime';
import { keepaliveConfigSchema, keepaliveDaemon, type RosterEntry } from '../src/index.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';

const quietSchema = daemonConfigSchema({});
function tinyDaemon(service: string): DaemonDefinition<typeof quietSchema> {
  return { service, version: '9.9.9', configSchema: quietSchema, start: () => Promise.resolve({ stop: () => Promise.resolve() }) };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keepalive-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start<S extends Parameters<typeof startDaemon>[0]>(definition: S, config: Record<string, unknown>): Promise<DaemonHandle> {
  const file = join(await tempDir(), 'config.json');
  await writeFile(file, JSON.stringify({ logLevel: 'silent', ...config }));
  const handle = await startDaemon(definition, { configFile: file, env: {} });
  cleanups.push(() => handle.stop());
  return handle;
}

async function askRoster(client: Bus, keepaliveHost: string, filter: { service?: string; host?: string } = {}): Promise<RosterEntry[] | undefined> {
  const query = client.message('roster.query', filter, { expectReplies: true });
  const result = await client.request(query, { expect: [keepaliveHost], timeoutMs: 2_000 });
  const reply: Message | undefined = result.replies.get(keepaliveHost);
  if (reply === undefined || !isMessageOfType(reply, 'roster.reply')) return undefined;
  expect(reply.correlationId).toBe(query.id);
  return reply.payload.entries;
}

const stateOf = (entries: readonly RosterEntry[] | undefined, instance: string): string | undefined => entries?.find((e) => e.instance === instance)?.state;

describe('keepalive on the memory bus', () => {
  it('lists running daemons as up, and reports one that stops as down, on the bus and in the roster', async () => {
    const url = `memory://${randomName('keepalive')}`;
    const common = { bus: { url }, heartbeatIntervalMs: 200 };
    const keepalive = await start(keepaliveDaemon, { ...common, host: 'ops1', minTimeoutMs: 600, checkIntervalMs: 50 });
    const alpha = await start(tinyDaemon('alpha'), { ...common, host: 'web1' });
    const beta = await start(tinyDaemon('beta'), { ...common, host: 'web2' });

    const client = await connectBus(url, { service: 'roster-test', host: 'tester' });
    cleanups.push(() => client.close());
    const presence: Array<Message<'presence.changed'>> = [];
    await client.subscribe({ patterns: ['presence.changed.#'] }, (m) => {
      if (isMessageOfType(m, 'presence.changed')) presence.push(m);
    });

    let entries: RosterEntry[] | undefined;
    await waitFor('keepalive, alpha and beta all up in the roster', async () => {
      entries = await askRoster(client, 'ops1');
      return [keepalive, alpha, beta].every((d) => stateOf(entries, d.context.instance) === 'up');
    });
    expect(entries?.find((e) => e.instance === alpha.context.instance)).toMatchObject({ service: 'alpha', host: 'web1', version: '9.9.9', intervalMs: 200 });
    expect(await askRoster(client, 'ops1', { service: 'beta' })).toEqual([expect.objectContaining({ service: 'beta', instance: beta.context.instance })]);

    await beta.stop();
    await waitFor('presence.changed down for beta', () => presence.some((m) => m.payload.instance === beta.context.instance && m.payload.state === 'down'));
    const down = presence.find((m) => m.payload.instance === beta.context.instance && m.payload.state === 'down');
    expect(down?.payload).toMatchObject({ service: 'beta', host: 'web2', observer: keepalive.context.instance });
    expect(down?.source).toEqual({ service: 'keepalive', host: 'ops1' });
    expect(presence.filter((m) => m.payload.instance === beta.context.instance && m.payload.state === 'down')).toHaveLength(1);

    entries = await askRoster(client, 'ops1');
    expect(stateOf(entries, beta.context.instance)).toBe('down');
    expect(stateOf(entries, alpha.context.instance)).toBe('up');
    const gauge = await keepalive.context.metrics.registry.getSingleMetricAsString('deploybus_daemons');
    expect(gauge).toContain('deploybus_daemons{daemon_service="alpha",state="up",service="keepalive"} 1');
    expect(gauge).toContain('deploybus_daemons{daemon_service="beta",state="down",service="keepalive"} 1');
    expect(presence.some((m) => m.payload.instance === alpha.context.instance && m.payload.state === 'down')).toBe(false);
  });

  it('does not report daemons down for the time keepalive itself was cut off from the bus', async () => {
    const name = randomName('keepalive');
    const url = `memory://${name}`;
    const common = { bus: { url }, heartbeatIntervalMs: 200 };
    await start(keepaliveDaemon, { ...common, host: 'ops3', minTimeoutMs: 600, checkIntervalMs: 50 });
    const alpha = await start(tinyDaemon('alpha'), { ...common, host: 'web1' });
    const gamma = await start(tinyDaemon('gamma'), { ...common, host: 'web3' });
    const client = await connectBus(url, { service: 'roster-test', host: 'tester' });
    cleanups.push(() => client.close());
    const presence: Array<Message<'presence.changed'>> = [];
    await client.subscribe({ patterns: ['presence.changed.#'] }, (m) => {
      if (isMessageOfType(m, 'presence.changed')) presence.push(m);
    });
    await waitFor('alpha and gamma up', async () => {
      const entries = await askRoster(client, 'ops3');
      return stateOf(entries, alpha.context.instance) === 'up' && stateOf(entries, gamma.context.instance) === 'up';
    });

    // Everyone loses the broker for well over the 600 ms timeout.
    const broker = memoryBroker(name);
    broker.stop();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    broker.start();
    // Reconnecting follows the bus's backoff, which a loaded machine stretches: wait generously (not a timing assertion).
    await waitFor('alpha heard again after the outage', async () => stateOf(await askRoster(client, 'ops3'), alpha.context.instance) === 'up', 40_000);

    // keepalive publishes changes in order: once gamma's down (stopped on purpose) is here, any down
    // for alpha would have arrived before it.
    await gamma.stop();
    // After its own outage keepalive gives every daemon the bus's 15 s reconnect grace before it may report
    // one down, so gamma's down comes at least that long after keepalive reconnected.
    await waitFor('presence.changed down for gamma', () => presence.some((m) => m.payload.instance === gamma.context.instance && m.payload.state === 'down'), 40_000);
    expect(presence.filter((m) => m.payload.state === 'down').map((m) => m.payload.instance)).toEqual([gamma.context.instance]);
  }, 90_000);

  it('ignores a roster.query that asks for no reply, and still answers the next one', async () => {
    const url = `memory://${randomName('keepalive')}`;
    await start(keepaliveDaemon, { bus: { url }, host: 'ops2', heartbeatIntervalMs: 200 });
    const client = await connectBus(url, { service: 'roster-test', host: 'tester' });
    cleanups.push(() => client.close());
    await client.publish(client.message('roster.query', {}));
    await waitFor('keepalive listed by itself', async () => (await askRoster(client, 'ops2'))?.some((e) => e.service === 'keepalive') === true);
  });

  it('keeps its roster to maxEntries against heartbeats of made-up instances, and says so in its log once a minute', async () => {
    const url = `memory://${randomName('keepalive')}`;
    const lines: string[] = [];
    const file = join(await tempDir(), 'config.json');
    await writeFile(file, JSON.stringify({ logLevel: 'warn', bus: { url }, host: 'ops3', heartbeatIntervalMs: 60_000, maxEntries: 3 }));
    const keepalive = await startDaemon(keepaliveDaemon, { configFile: file, env: {}, logDestination: { write: (line: string) => void lines.push(line) } });
    cleanups.push(() => keepalive.stop());
    const forger = await connectBus(url, { service: 'forger', host: 'evil' });
    cleanups.push(() => forger.close());
    await waitFor('keepalive listed by itself', async () => (await askRoster(forger, 'ops3'))?.length === 1);
    for (let i = 0; i < 20; i++) {
      await forger.publish(forger.message('heartbeat', { service: 'deploy-agent', host: `fake${i}`, instance: `fake${i}-1`, version: '1.0.0', uptimeMs: 1, intervalMs: 10_000 }));
    }
    await waitFor('the roster full warning', () => lines.some((l) => l.includes('roster full')));
    const roster = await askRoster(forger, 'ops3');
    expect(roster?.map((e) => e.host)).toEqual(['fake0', 'fake1', 'ops3']);
    const warnings = lines.filter((l) => l.includes('roster full')).map((l) => JSON.parse(l) as { msg: string; tracked: number });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/^roster full: 3 live instances \(maxEntries\); deploy-agent on fake2 \(instance fake2-1\) is not tracked/);
  });
});

describe('keepalive config', () => {
  it('has the documented defaults', () => {
    const config = loadConfig(keepaliveConfigSchema, { env: {} });
    expect(config).toMatchObject({ timeoutMultiplier: 3, minTimeoutMs: 5_000, retentionMs: 86_400_000, checkIntervalMs: 1_000, maxEntries: 10_000 });
    expect(config.bus.heartbeatMs).toBeUndefined();
  });

  it('takes bus.heartbeatMs and refuses bad values naming the key', async () => {
    const dir = await tempDir();
    const good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify({ bus: { url: 'memory://x', heartbeatMs: 30_000 }, timeoutMultiplier: 5 }));
    expect(loadConfig(keepaliveConfigSchema, { file: good, env: {} })).toMatchObject({ bus: { heartbeatMs: 30_000 }, timeoutMultiplier: 5 });
    for (const [body, key] of [
      [{ bus: { heartbeatMs: 10 } }, 'bus.heartbeatMs'],
      [{ timeoutMultiplier: 0 }, 'timeoutMultiplier'],
      [{ retentionMs: -1 }, 'retentionMs'],
      [{ checkIntervalMs: 'soon' }, 'checkIntervalMs'],
      [{ maxEntries: 0 }, 'maxEntries'],
      [{ timeoutMs: 5 }, 'timeoutMs'],
    ] as const) {
      const file = join(dir, `${key}.json`);
      await writeFile(file, JSON.stringify(body));
      let error: unknown;
      try {
        loadConfig(keepaliveConfigSchema, { file, env: {} });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).key).toBe(key);
    }
  });
});
