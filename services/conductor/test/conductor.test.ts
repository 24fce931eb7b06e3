// The conductor daemon on the in-memory bus with a SQLite ledger in a temp dir: deploy requests
// answered and gated, rollouts driven through fake agents that verify each command's signature, and
// everything recorded in the ledger. keepalive is played by a tiny roster.query responder.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { commandQueueName, commandRoutingKey, generateSigningKeyPair, isMessageOfType, verifyMessage, type Message, type PayloadInputOf } from '@deploybus/protocol';
import { startDaemon, type DaemonHandle } from '@deploybus/runtime';
import { openLedger, type Ledger } from '@deploybus/store';
import { conductorDaemon, RESTART_REASON } from '../src/index.js';
import { CaptureLogger } from '../../../packages/bus/test/support/capture-logger.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';

const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const OTHER_SHA = '1111111111111111111111111111111111111111';
const keys = generateSigningKeyPair();
const trusted = new Map([['conductor-test', keys.publicKey]]);

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

type Behaviour = 'ok' | 'fail' | 'silent' | 'hold';

interface Fleet {
  readonly commands: Message<'agent.command'>[];
  readonly verified: boolean[];
  behaviour: Map<string, Behaviour>;
  /** Held deploys (behaviour 'hold'): call to let them succeed. */
  readonly held: Array<() => Promise<void>>;
}

interface World {
  readonly url: string;
  readonly dir: string;
  readonly ledgerUrl: string;
  readonly client: Bus;
  readonly events: Message[];
  readonly fleet: Fleet;
  daemon: DaemonHandle | undefined;
  start(overrides?: Record<string, unknown>): Promise<DaemonHandle>;
  ledger(): Promise<Ledger>;
  request(payload: Partial<PayloadInputOf<'deploy.requested'>>): Promise<Message>;
  eventsOf(deploymentId: string): Message[];
}

async function world(hosts: readonly string[] = ['web1', 'web2', 'web3']): Promise<World> {
  const url = `memory://${randomName('conductor')}`;
  const dir = await mkdtemp(join(tmpdir(), 'conductor-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const ledgerUrl = `sqlite:${join(dir, 'ledger.db')}`;
  const logger = new CaptureLogger();
  const connect = async (service: string, host: string): Promise<Bus> => {
    const bus = await connectBus(url, { service, host, logger });
    cleanups.push(() => bus.close());
    return bus;
  };

  // keepalive, as far as the conductor sees it: the roster of the fake agents.
  const keepalive = await connect('keepalive', 'ka1');
  await keepalive.subscribe({ patterns: ['roster.query'] }, async (query) => {
    const now = new Date().toISOString();
    const entries = hosts.map((host) => ({
      service: 'deploy-agent',
      host,
      instance: `${host}-1`,
      version: '0.1.0',
      state: 'up' as const,
      firstSeen: now,
      lastSeen: now,
      uptimeMs: 1000,
      intervalMs: 10_000,
      apps: [{ app: 'shop', env: 'production', release: 'r-old', ref: 'v1.0.0' }],
    }));
    await keepalive.reply(query, keepalive.message('roster.reply', { entries, observer: 'ka1-1' }, { correlationId: query.id }));
  });

  const fleet: Fleet = { commands: [], verified: [], behaviour: new Map(), held: [] };
  const agents = await connect('deploy-agent', 'agents');
  let releaseNo = 0;
  for (const host of hosts) {
    await agents.subscribe({ queue: commandQueueName(host), patterns: [commandRoutingKey(host)] }, async (message) => {
      if (!isMessageOfType(message, 'agent.command')) return;
      fleet.commands.push(message);
      const ok = verifyMessage(JSON.parse(JSON.stringify(message)), trusted).ok;
      fleet.verified.push(ok);
      const p = message.payload;
      const reply = async (payload: Omit<PayloadInputOf<'agent.reply'>, 'commandId' | 'host'>): Promise<void> => {
        await agents.reply(message, agents.message('agent.reply', { commandId: p.commandId, host, ...payload }, { correlationId: message.id }));
      };
      if (!ok) return reply({ status: 'refused', error: 'bad signature' });
      const behaviour = fleet.behaviour.get(host) ?? 'ok';
      if (behaviour === 'silent') return;
      await reply({ status: 'accepted' });
      if (p.action === 'rollback') return reply({ status: 'succeeded', release: p.release ?? 'r-previous' });
      if (behaviour === 'fail') return reply({ status: 'failed', failedStep: 'health-check', exitCode: 1, error: 'health check failed' });
      releaseNo += 1;
      const succeed = (): Promise<void> => reply({ status: 'succeeded', release: `r-new-${releaseNo}` });
      if (behaviour === 'hold') fleet.held.push(succeed);
      else await succeed();
    });
  }

  const client = await connect('cli', 'laptop');
  const events: Message[] = [];
  await client.subscribe({ patterns: ['deploy.#'] }, (m) => {
    events.push(m);
  });

  const w: World = {
    url,
    dir,
    ledgerUrl,
    client,
    events,
    fleet,
    daemon: undefined,
    async start(overrides = {}) {
      const file = join(dir, 'conductor.json');
      const config = {
        logLevel: 'silent',
        host: 'ops1',
        bus: { url },
        ledger: { url: ledgerUrl },
        signing: { keyId: 'conductor-test', privateKey: { env: 'CONDUCTOR_TEST_KEY' } },
        roster: { keepaliveHosts: ['ka1'], timeoutMs: 2_000 },
        admins: ['root'],
        ...overrides,
      };
      await writeFile(file, JSON.stringify(config));
      const handle = await startDaemon(conductorDaemon, { configFile: file, env: { CONDUCTOR_TEST_KEY: keys.privateKey } });
      w.daemon = handle;
      cleanups.push(() => handle.stop());
      return handle;
    },
    async ledger() {
      const ledger = await openLedger(ledgerUrl);
      await ledger.migrate();
      cleanups.push(() => ledger.close());
      return ledger;
    },
    async request(payload) {
      const message = client.message('deploy.requested', { app: 'shop', env: 'production', ref: SHA, requestedBy: 'ada', rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 5_000 }, ...payload }, { expectReplies: true });
      const result = await client.request(message, { expect: ['ops1'], timeoutMs: 5_000 });
      const reply = result.replies.get('ops1');
      if (reply === undefined) throw new Error('the conductor did not answer the request');
      return reply;
    },
    eventsOf(deploymentId) {
      return events.filter((e) => (e.payload as { deploymentId?: string }).deploymentId === deploymentId);
    },
  };
  return w;
}

async function passBuild(w: World, sha = SHA): Promise<void> {
  const ledger = await w.ledger();
  await w.client.publish(w.client.message('build.succeeded', { repo: 'shop', ref: 'refs/tags/v1.4.1', sha, job: 'shop-ci', number: 42, url: 'http://jenkins.example.com/job/shop-ci/42/' }));
  await waitFor('the build recorded in the ledger', () => ledger.buildPassed('shop', sha));
}

function deploymentIdOf(reply: Message): string {
  if (!isMessageOfType(reply, 'deploy.queued')) throw new Error(`expected deploy.queued, got ${reply.type}: ${JSON.stringify(reply.payload)}`);
  return reply.payload.deploymentId;
}

async function finished(w: World, deploymentId: string): Promise<Message> {
  await waitFor(`deployment ${deploymentId} to finish`, () => w.eventsOf(deploymentId).some((e) => ['deploy.succeeded', 'deploy.failed', 'deploy.cancelled'].includes(e.type)));
  const last = w.eventsOf(deploymentId).find((e) => ['deploy.succeeded', 'deploy.failed', 'deploy.cancelled'].includes(e.type));
  if (last === undefined) throw new Error('unreachable');
  return last;
}

describe('conductor daemon', () => {
  it('deploys 3 hosts in batches of 1: signed commands, deploy.* events in order, and the ledger shows it', async () => {
    const w = await world();
    await w.start();
    await passBuild(w);
    const reply = await w.request({});
    expect(reply.type).toBe('deploy.queued');
    expect(reply.payload).toMatchObject({ app: 'shop', env: 'production', ref: SHA, sha: SHA, position: 0 });
    const id = deploymentIdOf(reply);
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.succeeded');
    expect(end.payload).toMatchObject({ succeededHosts: ['web1', 'web2', 'web3'], failedHosts: [] });

    const types = w.eventsOf(id).map((e) => e.type);
    expect(types).toEqual(['deploy.queued', 'deploy.started', 'deploy.host-result', 'deploy.host-result', 'deploy.host-result', 'deploy.succeeded']);
    const started = w.eventsOf(id).find((e) => e.type === 'deploy.started');
    expect(started?.payload).toMatchObject({ batches: [['web1'], ['web2'], ['web3']], sha: SHA });
    expect(w.eventsOf(id).filter((e) => e.type === 'deploy.host-result').map((e) => (e.payload as { host: string }).host)).toEqual(['web1', 'web2', 'web3']);

    // Every command was signed with the configured key, and one deploy went to each host.
    expect(w.fleet.verified).toEqual([true, true, true]);
    expect(w.fleet.commands.map((c) => [c.payload.host, c.payload.action])).toEqual([['web1', 'deploy'], ['web2', 'deploy'], ['web3', 'deploy']]);
    expect(w.fleet.commands[0]?.replyTo).toMatch(/^reply\.conductor_/);

    const ledger = await w.ledger();
    await waitFor('the deployment finished in the ledger', async () => (await ledger.deployment(id))?.state === 'succeeded');
    const deployment = await ledger.deployment(id);
    expect(deployment?.hosts.map((h) => [h.host, h.outcome])).toEqual(expect.arrayContaining([['web1', 'succeeded'], ['web2', 'succeeded'], ['web3', 'succeeded']]));
    expect((await ledger.history({ app: 'shop', env: 'production', limit: 10 })).map((d) => d.id)).toEqual([id]);
    expect((await ledger.releases({ app: 'shop', env: 'production' })).map((r) => [r.host, r.ref])).toEqual([['web1', SHA], ['web2', SHA], ['web3', SHA]]);
    const recorded = (await ledger.eventsAfter(0, 100)).events.filter((e) => e.deploymentId === id).map((e) => e.type);
    expect(recorded).toEqual(types);
  });

  it('stops at a failing second host and rolls the first back; the third is never sent a command', async () => {
    const w = await world();
    w.fleet.behaviour.set('web2', 'fail');
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({}));
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.failed');
    expect(end.payload).toMatchObject({ succeededHosts: [], failedHosts: ['web2', 'web1'] });
    expect((end.payload as { reason: string }).reason).toContain('web2');
    expect(w.fleet.commands.map((c) => [c.payload.host, c.payload.action])).toEqual([['web1', 'deploy'], ['web2', 'deploy'], ['web1', 'rollback']]);
    expect(w.fleet.commands[2]?.payload).toMatchObject({ release: 'r-old' });

    const ledger = await w.ledger();
    await waitFor('failed in the ledger', async () => (await ledger.deployment(id))?.state === 'failed');
    const hosts = new Map((await ledger.deployment(id))?.hosts.map((h) => [h.host, h.outcome]));
    expect(hosts).toEqual(new Map([['web1', 'rolled-back'], ['web2', 'failed']]));
  });

  it('refuses a locked environment with LOCKED, unless an admin forces it', async () => {
    const w = await world(['web1']);
    await w.start();
    await passBuild(w);
    const ledger = await w.ledger();
    await ledger.lock({ env: 'production', by: 'bob', reason: 'incident 311', at: new Date() });

    const refused = await w.request({});
    expect(refused.type).toBe('deploy.refused');
    expect(refused.payload).toMatchObject({ code: 'LOCKED' });
    expect((refused.payload as { reason: string }).reason).toContain('incident 311');
    await waitFor('the refusal published for everyone', () => w.events.some((e) => e.type === 'deploy.refused'));

    const notAdmin = await w.request({ force: true });
    expect(notAdmin.payload).toMatchObject({ code: 'INVALID_REQUEST' });

    const forced = await w.request({ force: true, requestedBy: 'root' });
    const end = await finished(w, deploymentIdOf(forced));
    expect(end.type).toBe('deploy.succeeded');
    expect(w.fleet.commands).toHaveLength(1);
  });

  it('refuses a commit without a succeeded build, and a ref it cannot resolve', async () => {
    const w = await world(['web1']);
    await w.start();
    await passBuild(w, OTHER_SHA);
    const unbuilt = await w.request({});
    expect(unbuilt.type).toBe('deploy.refused');
    expect(unbuilt.payload).toMatchObject({ code: 'BUILD_NOT_PASSED' });

    const tag = await w.request({ ref: 'v1.4.1' });
    expect(tag.payload).toMatchObject({ code: 'BAD_REF' });
    expect((tag.payload as { reason: string }).reason).toContain('apps.shop.repoUrl');
    expect(w.fleet.commands).toHaveLength(0);
    const ledger = await w.ledger();
    expect(await ledger.history({ limit: 10 })).toEqual([]);
  });

  it('reports a silent agent as no-response and the deploy as failed', async () => {
    const w = await world(['web1']);
    w.fleet.behaviour.set('web1', 'silent');
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({ rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 300 } }));
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.failed');
    const result = w.eventsOf(id).find((e) => e.type === 'deploy.host-result');
    expect(result?.payload).toMatchObject({ host: 'web1', outcome: 'no-response' });
    const ledger = await w.ledger();
    await waitFor('failed in the ledger', async () => (await ledger.deployment(id))?.state === 'failed');
    expect((await ledger.deployment(id))?.hosts).toMatchObject([{ host: 'web1', outcome: 'no-response' }]);
  });

  it('queues a second request behind a running one and starts it when the first ends', async () => {
    const w = await world(['web1']);
    w.fleet.behaviour.set('web1', 'hold');
    await w.start();
    await passBuild(w);
    const first = deploymentIdOf(await w.request({}));
    await waitFor('the first deploy command held by the agent', () => w.fleet.held.length === 1);

    const secondReply = await w.request({ requestedBy: 'bob' });
    expect(secondReply.payload).toMatchObject({ position: 1 });
    const second = deploymentIdOf(secondReply);
    expect(w.eventsOf(second).map((e) => e.type)).toEqual(['deploy.queued']);

    await w.fleet.held.shift()?.();
    expect((await finished(w, first)).type).toBe('deploy.succeeded');
    await waitFor('the second deploy command', () => w.fleet.held.length === 1);
    await w.fleet.held.shift()?.();
    expect((await finished(w, second)).type).toBe('deploy.succeeded');

    // The second started only after the first had ended.
    const order = w.events.filter((e) => ['deploy.started', 'deploy.succeeded'].includes(e.type)).map((e) => `${e.type}:${(e.payload as { deploymentId: string }).deploymentId === first ? 'first' : 'second'}`);
    expect(order).toEqual(['deploy.started:first', 'deploy.succeeded:first', 'deploy.started:second', 'deploy.succeeded:second']);
    expect(w.fleet.commands.map((c) => c.payload.action === 'deploy' && c.payload.deploymentId)).toEqual([first, second]);
  });

  it('at start, finishes a deployment left running by a conductor that is gone as failed', async () => {
    const w = await world(['web1']);
    const before = await openLedger(w.ledgerUrl);
    await before.migrate();
    await before.createDeployment({ id: 'd-interrupted-1', app: 'shop', env: 'production', ref: SHA, sha: SHA, requestedBy: 'ada', createdAt: new Date(), options: {} });
    expect(await before.markRunning('d-interrupted-1', new Date())).toBe(true);
    await before.close();

    await w.start();
    const end = await finished(w, 'd-interrupted-1');
    expect(end.type).toBe('deploy.failed');
    expect(end.payload).toMatchObject({ reason: RESTART_REASON });
    const ledger = await w.ledger();
    expect(await ledger.deployment('d-interrupted-1')).toMatchObject({ state: 'failed', reason: RESTART_REASON });
    expect(await ledger.unfinished()).toEqual([]);
    expect(w.fleet.commands).toHaveLength(0);
  });
});
