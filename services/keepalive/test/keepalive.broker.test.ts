// keepalive against the real RabbitMQ: daemons on STOMP and on AMQP all land in one roster, and a
// daemon process killed with SIGKILL (no goodbye of any kind) is reported down after its timeout and
// up again, as a new instance, when it is started again.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { isMessageOfType, type Message } from '@deploybus/protocol';
import { daemonConfigSchema, startDaemon, type DaemonDefinition, type DaemonHandle } from '@deploybus/runtime';
import { keepaliveDaemon, type RosterEntry } from '../src/index.js';
import { AMQP_URL, STOMP_URL, requireRabbit } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/tiny-daemon.mjs', import.meta.url));
const HEARTBEAT_MS = 200;
const MIN_TIMEOUT_MS = 3_000;

const quietSchema = daemonConfigSchema({});
const tinyDaemon = (service: string): DaemonDefinition<typeof quietSchema> => ({
  service,
  version: '9.9.9',
  configSchema: quietSchema,
  start: () => Promise.resolve({ stop: () => Promise.resolve() }),
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

beforeAll(async () => {
  await requireRabbit();
  // The child process runs the built runtime, as a deployed daemon would.
  const runtimeEntry = createRequire(import.meta.url).resolve('@deploybus/runtime');
  if (!existsSync(runtimeEntry)) throw new Error(`${runtimeEntry} is missing: run \`npm run build\` before the broker tests (npm test does)`);
});

async function configFile(config: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keepalive-broker-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ logLevel: 'silent', heartbeatIntervalMs: HEARTBEAT_MS, ...config }));
  return file;
}

async function start<S extends Parameters<typeof startDaemon>[0]>(definition: S, config: Record<string, unknown>): Promise<DaemonHandle> {
  const handle = await startDaemon(definition, { configFile: await configFile(config), env: {} });
  cleanups.push(() => handle.stop());
  return handle;
}

/** Starts the tiny daemon as its own node process; its stderr is kept for the failure message. */
async function spawnDaemon(service: string, config: Record<string, unknown>): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [FIXTURE, service, '--config', await configFile(config)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, stderr: () => stderr };
}

async function askRoster(client: Bus, keepaliveHost: string): Promise<RosterEntry[]> {
  const query = client.message('roster.query', {}, { expectReplies: true });
  const result = await client.request(query, { expect: [keepaliveHost], timeoutMs: 3_000 });
  const reply: Message | undefined = result.replies.get(keepaliveHost);
  return reply !== undefined && isMessageOfType(reply, 'roster.reply') ? reply.payload.entries : [];
}

describe('keepalive on RabbitMQ', () => {
  it('puts STOMP and AMQP daemons in one roster, and sees a killed daemon go down and come back', async () => {
    const tag = randomName('ka').replace(/[^a-z0-9-]/g, '');
    const hosts = { keepalive: `${tag}-ops`, stomp: `${tag}-s1`, amqp: `${tag}-a1`, child: `${tag}-c1` };
    const keepalive = await start(keepaliveDaemon, { bus: { url: STOMP_URL }, host: hosts.keepalive, minTimeoutMs: MIN_TIMEOUT_MS, checkIntervalMs: 100 });
    const client = await connectBus(AMQP_URL, { service: 'roster-test', host: `${tag}-client` });
    cleanups.push(() => client.close());
    const presence: Array<Message<'presence.changed'>> = [];
    await client.subscribe({ patterns: ['presence.changed.#'] }, (m) => {
      if (isMessageOfType(m, 'presence.changed') && m.payload.host.startsWith(tag)) presence.push(m);
    });
    const onStomp = await start(tinyDaemon('tiny-stomp'), { bus: { url: STOMP_URL }, host: hosts.stomp });
    const onAmqp = await start(tinyDaemon('tiny-amqp'), { bus: { url: AMQP_URL }, host: hosts.amqp });
    const first = await spawnDaemon('tiny-process', { bus: { url: AMQP_URL }, host: hosts.child });

    const onHost = (entries: readonly RosterEntry[], host: string): RosterEntry[] => entries.filter((e) => e.host === host);
    let entries: RosterEntry[] = [];
    await waitFor(`all four daemons up in the roster (child stderr: ${first.stderr()})`, async () => {
      entries = await askRoster(client, hosts.keepalive);
      return Object.values(hosts).every((host) => onHost(entries, host).some((e) => e.state === 'up'));
    }, 30_000);
    expect(onHost(entries, hosts.stomp)).toEqual([expect.objectContaining({ service: 'tiny-stomp', instance: onStomp.context.instance, version: '9.9.9', state: 'up' })]);
    expect(onHost(entries, hosts.amqp)).toEqual([expect.objectContaining({ service: 'tiny-amqp', instance: onAmqp.context.instance, state: 'up' })]);
    expect(onHost(entries, hosts.keepalive)).toEqual([expect.objectContaining({ service: 'keepalive', instance: keepalive.context.instance, state: 'up' })]);
    const killed = onHost(entries, hosts.child)[0];
    expect(killed).toMatchObject({ service: 'tiny-process', version: '1.2.3', state: 'up' });
    await waitFor('presence.changed up for the child', () => presence.some((m) => m.payload.instance === killed?.instance && m.payload.state === 'up'));

    first.child.kill('SIGKILL');
    await waitFor('presence.changed down for the killed daemon', () => presence.some((m) => m.payload.instance === killed?.instance && m.payload.state === 'down'), 30_000);
    expect(presence.find((m) => m.payload.instance === killed?.instance && m.payload.state === 'down')?.payload).toMatchObject({
      service: 'tiny-process',
      host: hosts.child,
      observer: keepalive.context.instance,
    });
    entries = await askRoster(client, hosts.keepalive);
    expect(onHost(entries, hosts.child)).toEqual([expect.objectContaining({ instance: killed?.instance, state: 'down' })]);
    // Nothing else went down with it.
    expect(presence.filter((m) => m.payload.state === 'down').map((m) => m.payload.host)).toEqual([hosts.child]);

    const second = await spawnDaemon('tiny-process', { bus: { url: AMQP_URL }, host: hosts.child });
    await waitFor(`presence.changed up for the restarted daemon (stderr: ${second.stderr()})`, () =>
      presence.some((m) => m.payload.host === hosts.child && m.payload.instance !== killed?.instance && m.payload.state === 'up'),
    30_000);
    entries = await askRoster(client, hosts.keepalive);
    const states = onHost(entries, hosts.child).map((e) => [e.instance === killed?.instance ? 'old' : 'new', e.state]);
    expect(states.sort()).toEqual([
      ['new', 'up'],
      ['old', 'down'],
    ]);
  });
});
