// End to end on the real RabbitMQ: a conductor (AMQP, SQLite ledger) and keepalive (STOMP) in this
// process, and a fleet of three deploy-agents as separate processes (the built daemon; one over STOMP,
// two over AMQP), each with its own deploy root and mirror, all trusting the conductor's key, deploying
// tags of a real git origin. A tag rolled out in batches; a failing health check on the second host
// stopping the rollout and rolling back the first; an unsigned command from a foreign client refused by
// every agent; hostile ref names running nothing; an agent killed mid-deploy reported and still serving
// its old release; the broker restarted mid-rollout ending in a correct state with no host deployed twice.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { commandQueueName, commandRoutingKey, EVENTS_EXCHANGE, generateSigningKeyPair, isMessageOfType, signMessage, type Message, type MessageType, type PayloadInputOf } from '@deploybus/protocol';
import { startDaemon, type DaemonDefinition, type DaemonHandle } from '@deploybus/runtime';
import { openLedger, type Ledger } from '@deploybus/store';
import { conductorDaemon } from '@deploybus/conductor';
import { keepaliveDaemon } from '@deploybus/keepalive';
import { AMQP_URL, rabbitmqctl, requireRabbit, STOMP_URL } from '../../packages/bus/test/support/rabbit-harness.js';
import { CaptureLogger } from '../../packages/bus/test/support/capture-logger.js';
import { randomName, sleep, waitFor } from '../../packages/bus/test/support/wait-for.js';
import { makeOrigin, requireBuiltAgent, startAgent, type AgentProcess, type Origin } from './support/fleet.js';

const ENV = 'production';
const KEY_ID = 'conductor-e2e';
const keys = generateSigningKeyPair();
const app = randomName('fleet').replace('-', '');
const base = randomName('e2e');
// Sorted, so the rollout order is a, b, c; b is the host whose health check needs the file `healthy`.
const hostNames = [`${base}-a`, `${base}-b`, `${base}-c`] as const;
const conductorHost = randomName('ops');
const keepaliveHost = randomName('ka');
const markers = [join(tmpdir(), randomName('deploybus-e2e-pwned')), join(tmpdir(), randomName('deploybus-e2e-pwned'))];

let dir: string;
let origin: Origin;
let client: Bus;
let ledger: Ledger;
const daemons: DaemonHandle[] = [];
const logs = new Map<string, string[]>();
const agents = new Map<string, AgentProcess>();
const seen: Message[] = [];
const shas = new Map<string, string>();
/** The release each host ran after the first rollout. */
const firstRelease = new Map<string, string>();

function agent(host: string): AgentProcess {
  const a = agents.get(host);
  if (a === undefined) throw new Error(`no agent ${host}`);
  return a;
}
const [hostA, hostB, hostC] = hostNames;

function ofType<T extends MessageType>(type: T): Array<Extract<Message, { type: T }>> {
  return seen.filter((m): m is Extract<Message, { type: T }> => m.type === type);
}
function eventsOf(deploymentId: string): Message[] {
  return seen.filter((m) => m.type.startsWith('deploy.') && (m.payload as { deploymentId?: string }).deploymentId === deploymentId);
}

async function startInProcess<S extends Parameters<typeof startDaemon>[0]['configSchema']>(name: string, definition: DaemonDefinition<S>, config: Record<string, unknown>, env: Record<string, string> = {}): Promise<void> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify({ heartbeatIntervalMs: 500, logLevel: 'warn', ...config }));
  const lines: string[] = [];
  logs.set(name, lines);
  daemons.push(await startDaemon(definition, { configFile: file, env, logDestination: { write: (line) => void lines.push(line) } }));
}

async function roster(): Promise<Array<{ host: string; service: string; state: string; apps?: Array<{ app: string; release?: string | undefined }> | undefined }>> {
  const answer = await client.request(client.message('roster.query', {}, { expectReplies: true }), { expect: [keepaliveHost], timeoutMs: 5_000 });
  const reply = answer.replies.get(keepaliveHost);
  return reply !== undefined && isMessageOfType(reply, 'roster.reply') ? reply.payload.entries : [];
}
async function waitForFleetUp(hosts: readonly string[]): Promise<void> {
  await waitFor(
    `agents ${hosts.join(', ')} up in the roster with app ${app}`,
    async () => {
      const entries = await roster();
      return hosts.every((host) => entries.some((e) => e.host === host && e.service === 'deploy-agent' && e.state === 'up' && (e.apps ?? []).some((a) => a.app === app)));
    },
    60_000,
  );
}

async function passBuild(tag: string): Promise<void> {
  const sha = shas.get(tag) ?? '';
  await client.publish(client.message('build.succeeded', { repo: app, ref: `refs/tags/${tag}`, sha, job: `${app}-ci`, number: 1, url: 'http://jenkins.example.com/job/x/1/' }));
  await waitFor(`the build of ${tag} in the ledger`, () => ledger.buildPassed(app, sha), 20_000);
}

async function requestDeploy(payload: Partial<PayloadInputOf<'deploy.requested'>>): Promise<Message> {
  const message = client.message('deploy.requested', { app, env: ENV, ref: 'v1.0.0', requestedBy: 'ada', rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 30_000 }, ...payload }, { expectReplies: true });
  const result = await client.request(message, { expect: [conductorHost], timeoutMs: 20_000 });
  const reply = result.replies.get(conductorHost);
  if (reply === undefined) throw new Error('the conductor did not answer the request');
  return reply;
}
function deploymentIdOf(reply: Message): string {
  if (!isMessageOfType(reply, 'deploy.queued')) throw new Error(`expected deploy.queued, got ${reply.type}: ${JSON.stringify(reply.payload)}`);
  return reply.payload.deploymentId;
}
const END = ['deploy.succeeded', 'deploy.failed', 'deploy.cancelled'];
async function finished(deploymentId: string, timeoutMs = 60_000): Promise<Message> {
  await waitFor(`deployment ${deploymentId} to finish`, () => eventsOf(deploymentId).some((e) => END.includes(e.type)), timeoutMs);
  const end = eventsOf(deploymentId).find((e) => END.includes(e.type));
  if (end === undefined) throw new Error('unreachable');
  return end;
}

async function currents(): Promise<Map<string, string | undefined>> {
  return new Map(await Promise.all(hostNames.map(async (h) => [h, await agent(h).current()] as const)));
}

async function publishRaw(routingKey: string, envelope: unknown): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createConfirmChannel();
    channel.publish(EVENTS_EXCHANGE, routingKey, Buffer.from(JSON.stringify(envelope)), { contentType: 'application/json', persistent: true });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

const predeploy = (sleepMs: number): string => `setTimeout(() => process.exit(0), ${sleepMs});\n`;

beforeAll(async () => {
  await requireRabbit();
  requireBuiltAgent();
  dir = await mkdtemp(join(tmpdir(), 'deploybus-fleet-'));
  origin = await makeOrigin(join(dir, 'origin'));
  shas.set('v1.0.0', await origin.release('v1.0.0', { 'app.txt': 'v1.0.0\n', 'lib.txt': 'library one\n', healthy: '', 'predeploy.js': predeploy(0) }));
  shas.set('v1.1.0', await origin.release('v1.1.0', { 'app.txt': 'v1.1.0 (broken)\n', healthy: null }));
  shas.set('v1.2.0', await origin.release('v1.2.0', { 'app.txt': 'v1.2.0 (slow)\n', healthy: '', 'predeploy.js': predeploy(8_000) }));
  shas.set('v1.3.0', await origin.release('v1.3.0', { 'app.txt': 'v1.3.0\n', 'predeploy.js': predeploy(3_000) }));

  // Its own reconnect warnings during the broker restart are expected; kept out of the test output.
  client = await connectBus(STOMP_URL, { service: 'e2e-client', host: randomName('laptop'), logger: new CaptureLogger() });
  const deployEvents = ['queued', 'refused', 'started', 'host-result', 'succeeded', 'failed', 'cancelled'].map((kind) => `deploy.${kind}.#`);
  await client.subscribe({ patterns: [...deployEvents, 'task.#', client.replyAddress] }, (m) => void seen.push(m));

  await startInProcess('keepalive', keepaliveDaemon, { host: keepaliveHost, bus: { url: STOMP_URL }, minTimeoutMs: 3_000 });
  const ledgerUrl = `sqlite:${join(dir, 'ledger.db')}`;
  await startInProcess(
    'conductor',
    conductorDaemon,
    {
      host: conductorHost,
      bus: { url: AMQP_URL },
      ledger: { url: ledgerUrl },
      signing: { keyId: KEY_ID, privateKey: { env: 'E2E_CONDUCTOR_KEY' } },
      roster: { keepaliveHosts: [keepaliveHost], timeoutMs: 5_000 },
      apps: { [app]: { repoUrl: origin.path } },
    },
    { E2E_CONDUCTOR_KEY: keys.privateKey },
  );
  ledger = await openLedger(ledgerUrl);

  const busOf: Record<string, string> = { [hostA]: STOMP_URL, [hostB]: AMQP_URL, [hostC]: AMQP_URL };
  for (const host of hostNames) {
    const healthCheck = host === hostB ? { command: ['test', '-f', 'healthy'], retries: 1, intervalMs: 100, timeoutMs: 2_000 } : { command: ['test', '-f', 'app.txt'], retries: 0, timeoutMs: 2_000 };
    agents.set(
      host,
      await startAgent({
        host,
        busUrl: busOf[host] ?? AMQP_URL,
        dir,
        keyId: KEY_ID,
        publicKey: keys.publicKey,
        app: { name: app, env: ENV, repo: app, url: origin.path, roles: ['web'], keepReleases: 10, hooks: { preDeploy: [process.execPath, 'predeploy.js'] }, healthCheck },
      }),
    );
  }
  await waitForFleetUp(hostNames);
}, 120_000);

afterAll(async () => {
  for (const a of agents.values()) await a.stop().catch(() => undefined);
  for (const d of daemons.reverse()) await d.stop().catch(() => undefined);
  await ledger?.close().catch(() => undefined);
  await client?.close().catch(() => undefined);
  const connection = await amqp.connect(AMQP_URL).catch(() => undefined);
  if (connection !== undefined) {
    try {
      const channel = await connection.createChannel();
      for (const host of hostNames) await channel.deleteQueue(commandQueueName(host));
    } finally {
      await connection.close();
    }
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  for (const marker of markers) await rm(marker, { force: true });
}, 60_000);

describe('a fleet of deploy-agent processes on RabbitMQ, driven by the conductor', () => {
  it('deploys a tag to three agents in batches of one; every current release holds the tag\'s files; the ledger says succeeded', async () => {
    await passBuild('v1.0.0');
    const reply = await requestDeploy({ ref: 'v1.0.0' });
    expect(reply.type).toBe('deploy.queued');
    const id = deploymentIdOf(reply);
    const end = await finished(id);
    expect(end.type, JSON.stringify(end.payload)).toBe('deploy.succeeded');
    const started = eventsOf(id).find((e) => e.type === 'deploy.started');
    expect(started?.type === 'deploy.started' ? started.payload.batches : []).toEqual([[hostA], [hostB], [hostC]]);
    for (const host of hostNames) {
      const release = await agent(host).current();
      expect(release, host).toMatch(/-v1\.0\.0$/);
      firstRelease.set(host, release ?? '');
      const current = join(agent(host).deployRoot, 'current');
      expect(await readFile(join(current, 'app.txt'), 'utf8')).toBe('v1.0.0\n');
      expect(await readFile(join(current, 'lib.txt'), 'utf8')).toBe('library one\n');
      expect(existsSync(join(current, '.git'))).toBe(false);
    }
    await waitFor('succeeded in the ledger', async () => (await ledger.deployment(id))?.state === 'succeeded');
    const recorded = await ledger.deployment(id);
    expect(recorded?.hosts.map((h) => [h.host, h.outcome]).sort()).toEqual(hostNames.map((h) => [h, 'succeeded']));
  });

  it('a failing health check on the second host stops the rollout and rolls the first back', async () => {
    await passBuild('v1.1.0');
    const id = deploymentIdOf(await requestDeploy({ ref: 'v1.1.0' }));
    const end = await finished(id);
    expect(end.type).toBe('deploy.failed');
    const reason = end.type === 'deploy.failed' ? end.payload.reason : '';
    expect(reason).toContain(hostB);
    expect(reason).toContain('health-check');
    // The first host switched to v1.1.0, then was rolled back to the release it ran before.
    expect(seen.some((m) => m.type === 'task.completed' && (m.payload as { host?: string }).host === hostA && (m.payload as { deploymentId?: string }).deploymentId === id && (m.payload as { step?: string }).step === 'switch')).toBe(true);
    await waitFor('the first host rolled back', async () => (await agent(hostA).current()) === firstRelease.get(hostA), 30_000);
    expect(await readFile(join(agent(hostA).deployRoot, 'current', 'app.txt'), 'utf8')).toBe('v1.0.0\n');
    expect(await agent(hostB).current()).toBe(firstRelease.get(hostB));
    // The third host was never asked.
    expect(await agent(hostC).current()).toBe(firstRelease.get(hostC));
    expect(agent(hostC).releases().some((r) => r.endsWith('-v1.1.0'))).toBe(false);
    const results = eventsOf(id).filter((e) => e.type === 'deploy.host-result').map((e) => (e.type === 'deploy.host-result' ? [e.payload.host, e.payload.outcome] : []));
    expect(results).toContainEqual([hostB, 'failed']);
    expect(results).toContainEqual([hostA, 'rolled-back']);
    expect(results.some(([host]) => host === hostC)).toBe(false);
    await waitFor('failed in the ledger', async () => (await ledger.deployment(id))?.state === 'failed');
  });

  it('an unsigned command published raw onto amq.topic by a foreign client is refused by every agent, nothing deployed', async () => {
    const before = await currents();
    const ids = new Map<string, string>();
    for (const host of hostNames) {
      const commandId = randomName('foreign');
      ids.set(host, commandId);
      await publishRaw(commandRoutingKey(host), {
        v: 1,
        id: randomUUID(),
        type: 'agent.command',
        time: new Date().toISOString(),
        source: { service: 'foreign', host: 'intruder' },
        replyTo: client.replyAddress,
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
        payload: { action: 'deploy', commandId, host, deploymentId: 'd-foreign-1', app, env: ENV, ref: 'v1.2.0' },
      });
    }
    const repliesTo = (commandId: string): Array<Message<'agent.reply'>> => ofType('agent.reply').filter((r) => r.payload.commandId === commandId);
    await waitFor('a refusal from every agent', () => [...ids.values()].every((id) => repliesTo(id).length > 0), 20_000);
    await sleep(500);
    for (const [host, commandId] of ids) {
      expect(repliesTo(commandId).map((r) => [r.payload.host, r.payload.status, r.payload.error?.split(':')[0]])).toEqual([[host, 'refused', 'UNSIGNED']]);
      expect(agent(host).releases().some((r) => r.endsWith('-v1.2.0'))).toBe(false);
    }
    expect(await currents()).toEqual(before);
  });

  it('refs named `--upload-pack=touch …` or `$(touch …)` run nothing, whether asked of the conductor or signed straight to the agents', async () => {
    const before = await currents();
    const hostile = [`--upload-pack=touch ${markers[0] ?? ''}`, `$(touch ${markers[1] ?? ''})`];
    const requestIds: string[] = [];
    for (const ref of hostile) {
      // A deploy request that the protocol refuses to build is sent raw, as a foreign client would.
      const good = client.message('deploy.requested', { app, env: ENV, ref: 'v1.0.0', requestedBy: 'mallory', force: false }, { expectReplies: true });
      requestIds.push(good.id);
      await publishRaw(`deploy.requested.${app}.${ENV}`, { ...JSON.parse(JSON.stringify(good)), payload: { ...good.payload, ref } });
      // A command carrying the ref, validly signed with the conductor's own key, sent to every agent.
      for (const host of hostNames) {
        const command = client.message('agent.command', { action: 'deploy', commandId: randomName('hostile'), host, deploymentId: 'd-hostile-1', app, env: ENV, ref: 'v1.0.0' }, { expectReplies: true, ttlMs: 60_000 });
        const signed = signMessage({ ...JSON.parse(JSON.stringify(command)), payload: { ...command.payload, ref } } as object, { keyId: KEY_ID, privateKey: keys.privateKey });
        await publishRaw(commandRoutingKey(host), signed);
      }
    }
    // Each reached its receiver and was turned away there: the conductor and every agent dead-letter it as unreadable.
    const unreadable = (lines: readonly string[], routingKey: string): number =>
      lines.filter((line) => line.includes('unreadable message dead-lettered') && line.includes(`"routingKey":"${routingKey}"`) && line.includes('payload.ref')).length;
    await waitFor('the conductor to turn both requests away', () => unreadable(logs.get('conductor') ?? [], `deploy.requested.${app}.${ENV}`) >= hostile.length, 20_000);
    for (const host of hostNames) {
      await waitFor(`${host} to turn both commands away`, () => unreadable(readFileSync(agent(host).logFile, 'utf8').split('\n'), commandRoutingKey(host)) >= hostile.length, 20_000);
    }
    await sleep(1_000);
    for (const marker of markers) expect(existsSync(marker), marker).toBe(false);
    // Nothing was queued or started for them; the requester is told why (message.rejected names the field).
    const answers = seen.filter((m) => m.correlationId !== undefined && requestIds.includes(m.correlationId));
    expect(answers.filter((m) => m.type !== 'message.rejected' && m.type !== 'deploy.refused')).toEqual([]);
    for (const id of requestIds) {
      const rejected = answers.find((m) => m.correlationId === id && m.type === 'message.rejected');
      expect(rejected?.type === 'message.rejected' ? rejected.payload.reason : '', id).toMatch(/payload\.ref/);
    }
    expect(seen.filter((m) => m.type === 'deploy.started' && hostile.includes((m.payload as { ref: string }).ref))).toEqual([]);
    expect(ofType('agent.reply').filter((r) => r.payload.status !== 'refused' && r.payload.commandId.startsWith('hostile'))).toEqual([]);
    expect(await currents()).toEqual(before);
  });

  it('an agent killed mid-deploy is reported as no-response, never success, and its old release still serves', async () => {
    const victim = agent(hostC);
    const before = await victim.current();
    expect(before).toBe(firstRelease.get(hostC));
    await passBuild('v1.2.0');
    const id = deploymentIdOf(await requestDeploy({ ref: 'v1.2.0', targets: { hosts: [hostC] }, rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 10_000 } }));
    await waitFor('the slow pre-deploy hook to start', () => seen.some((m) => m.type === 'task.started' && (m.payload as { deploymentId?: string; step?: string }).deploymentId === id && (m.payload as { step?: string }).step === 'pre-deploy'), 30_000);
    await victim.kill();
    const end = await finished(id, 60_000);
    expect(end.type).toBe('deploy.failed');
    expect(eventsOf(id).some((e) => e.type === 'deploy.succeeded')).toBe(false);
    const results = eventsOf(id).filter((e) => e.type === 'deploy.host-result').map((e) => (e.type === 'deploy.host-result' ? [e.payload.host, e.payload.outcome] : []));
    // Its deploy, and the rollback sent in case it was still deploying: both unanswered.
    expect(results).toEqual([[hostC, 'no-response'], [hostC, 'no-response']]);
    expect(await victim.current()).toBe(before);
    expect(readFileSync(join(victim.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('v1.0.0\n');
    await waitFor('failed in the ledger', async () => (await ledger.deployment(id))?.state === 'failed');
    expect((await ledger.deployment(id))?.hosts.map((h) => h.outcome)).not.toContain('succeeded');

    // Back up, the agent does not finish the interrupted deploy on its own: the old release still serves.
    victim.restart();
    await waitForFleetUp([hostC]);
    await sleep(2_000);
    expect(await victim.current()).toBe(before);
  });

  it('the broker restarted mid-rollout ends in a correct final state with no host deployed twice', async () => {
    const before = await currents();
    await passBuild('v1.3.0');
    const id = deploymentIdOf(await requestDeploy({ ref: 'v1.3.0', rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 40_000 } }));
    await waitFor('the first batch\'s slow pre-deploy hook to start', () => seen.some((m) => m.type === 'task.started' && (m.payload as { deploymentId?: string }).deploymentId === id && (m.payload as { step?: string }).step === 'pre-deploy'), 30_000);
    await rabbitmqctl('stop_app');
    try {
      await sleep(2_000);
    } finally {
      await rabbitmqctl('start_app');
    }
    await waitFor('the deployment to end in the ledger', async () => ['succeeded', 'failed', 'cancelled'].includes((await ledger.deployment(id))?.state ?? ''), 150_000);
    const recorded = await ledger.deployment(id);
    const outcomes = new Map((recorded?.hosts ?? []).map((h) => [h.host, h.outcome]));
    for (const host of hostNames) {
      const v13 = agent(host).releases().filter((r) => r.endsWith('-v1.3.0'));
      expect(v13.length, `${host} releases ${v13.join(', ')}`).toBeLessThanOrEqual(1);
      const current = await agent(host).current();
      if (outcomes.get(host) === 'succeeded') expect(current, host).toMatch(/-v1\.3\.0$/);
      else expect(current, `${host} (${outcomes.get(host) ?? 'not reached'})`).toBe(before.get(host));
    }
    // Of the checkouts seen on the bus (those during the outage are not), none ran twice on a host.
    for (const host of hostNames) {
      const checkouts = seen.filter((m) => m.type === 'task.started' && (m.payload as { deploymentId?: string }).deploymentId === id && (m.payload as { host?: string }).host === host && (m.payload as { step?: string }).step === 'checkout');
      expect(checkouts.length, host).toBeLessThanOrEqual(1);
    }
    expect(recorded?.state, JSON.stringify(recorded)).toBe('succeeded');
    for (const host of hostNames) expect(readFileSync(join(agent(host).deployRoot, 'current', 'app.txt'), 'utf8'), host).toBe('v1.3.0\n');
  }, 240_000);
});
