// A conductor test world: the conductor daemon started from a config file, a tiny keepalive that
// answers roster.query, fake agents on their command queues that verify each command's signature and
// reply accepted then succeeded/failed (or stay silent, or hold), and a client that sends requests and
// collects every deploy.* event. The bus URL is a parameter, so the same world runs on RabbitMQ.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectBus, type Bus } from '@deploybus/bus';
import { commandQueueName, commandRoutingKey, generateSigningKeyPair, isMessageOfType, verifyMessage, type Message, type PayloadInputOf } from '@deploybus/protocol';
import { startDaemon, type DaemonHandle } from '@deploybus/runtime';
import { openLedger, type Ledger } from '@deploybus/store';
import { conductorDaemon } from '../../src/index.js';
import { CaptureLogger } from '../../../../packages/bus/test/support/capture-logger.js';
import { randomName, waitFor } from '../../../../packages/bus/test/support/wait-for.js';

export const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';
export const OTHER_SHA = '1111111111111111111111111111111111111111';
const keys = generateSigningKeyPair();
const trusted = new Map([['conductor-test', keys.publicKey]]);

export const cleanups: Array<() => Promise<unknown>> = [];
/** Runs and forgets every cleanup, latest first; call from afterEach. */
export async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}

/** How a fake agent answers: 'rollback-fails' deploys fine and fails its rollback; 'rollback-hold' holds its rollback (in held). */
export type Behaviour = 'ok' | 'fail' | 'silent' | 'hold' | 'rollback-fails' | 'rollback-hold';

export interface Fleet {
  readonly commands: Message<'agent.command'>[];
  readonly verified: boolean[];
  behaviour: Map<string, Behaviour>;
  /** Held deploys (behaviour 'hold') and rollbacks ('rollback-hold'): call to let them succeed. */
  readonly held: Array<() => Promise<void>>;
}

export interface World {
  readonly url: string;
  readonly dir: string;
  readonly ledgerUrl: string;
  readonly client: Bus;
  readonly events: Message[];
  readonly fleet: Fleet;
  daemon: DaemonHandle | undefined;
  /** The conductor daemon's log lines (JSON), when started with a logLevel other than the default 'silent'. */
  readonly daemonLog: string[];
  start(overrides?: Record<string, unknown>): Promise<DaemonHandle>;
  ledger(): Promise<Ledger>;
  request(payload: Partial<PayloadInputOf<'deploy.requested'>>): Promise<Message>;
  eventsOf(deploymentId: string): Message[];
}

export interface WorldOptions {
  readonly hosts?: readonly string[];
  /** The conductor's bus (default: a fresh in-memory broker). */
  readonly busUrl?: string;
  /** The client's bus (default: busUrl). */
  readonly clientBusUrl?: string;
  readonly app?: string;
  readonly keepaliveHost?: string;
}

export async function world(options: WorldOptions = {}): Promise<World> {
  const hosts = options.hosts ?? ['web1', 'web2', 'web3'];
  const app = options.app ?? 'shop';
  const keepaliveHost = options.keepaliveHost ?? 'ka1';
  const url = options.busUrl ?? `memory://${randomName('conductor')}`;
  const dir = await mkdtemp(join(tmpdir(), 'conductor-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const ledgerUrl = `sqlite:${join(dir, 'ledger.db')}`;
  const logger = new CaptureLogger();
  const connect = async (service: string, host: string, busUrl = url): Promise<Bus> => {
    const bus = await connectBus(busUrl, { service, host, logger });
    cleanups.push(() => bus.close());
    return bus;
  };

  // keepalive, as far as the conductor sees it: the roster of the fake agents.
  const keepalive = await connect('keepalive', keepaliveHost);
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
      apps: [{ app, env: 'production', release: 'r-old', ref: 'v1.0.0' }],
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
      if (p.action === 'rollback' && behaviour === 'rollback-fails') return reply({ status: 'failed', failedStep: 'restart', exitCode: 1, error: 'restart failed' });
      if (p.action === 'rollback') {
        const rolledBack = (): Promise<void> => reply({ status: 'succeeded', release: p.release ?? 'r-previous' });
        if (behaviour === 'rollback-hold') return void fleet.held.push(rolledBack);
        return rolledBack();
      }
      if (behaviour === 'fail') return reply({ status: 'failed', failedStep: 'health-check', exitCode: 1, error: 'health check failed' });
      releaseNo += 1;
      const succeed = (): Promise<void> => reply({ status: 'succeeded', release: `r-new-${releaseNo}` });
      if (behaviour === 'hold') fleet.held.push(succeed);
      else await succeed();
    });
  }

  const client = await connect('cli', 'laptop', options.clientBusUrl ?? url);
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
    daemonLog: [],
    async start(overrides = {}) {
      const file = join(dir, 'conductor.json');
      const config = {
        logLevel: 'silent',
        host: 'ops1',
        bus: { url },
        ledger: { url: ledgerUrl },
        signing: { keyId: 'conductor-test', privateKey: { env: 'CONDUCTOR_TEST_KEY' } },
        roster: { keepaliveHosts: [keepaliveHost], timeoutMs: 5_000 },
        admins: ['root'],
        ...overrides,
      };
      await writeFile(file, JSON.stringify(config));
      const handle = await startDaemon(conductorDaemon, { configFile: file, env: { CONDUCTOR_TEST_KEY: keys.privateKey }, logDestination: { write: (line) => void w.daemonLog.push(line) } });
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
      const message = client.message('deploy.requested', { app, env: 'production', ref: SHA, requestedBy: 'ada', rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 5_000 }, ...payload }, { expectReplies: true });
      const result = await client.request(message, { expect: ['ops1'], timeoutMs: 10_000 });
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

export async function passBuild(w: World, sha = SHA, repo = 'shop'): Promise<void> {
  const ledger = await w.ledger();
  await w.client.publish(w.client.message('build.succeeded', { repo, ref: 'refs/tags/v1.4.1', sha, job: 'shop-ci', number: 42, url: 'http://jenkins.example.com/job/shop-ci/42/' }));
  await waitFor('the build recorded in the ledger', () => ledger.buildPassed(repo, sha));
}

export function deploymentIdOf(reply: Message): string {
  if (!isMessageOfType(reply, 'deploy.queued')) throw new Error(`expected deploy.queued, got ${reply.type}: ${JSON.stringify(reply.payload)}`);
  return reply.payload.deploymentId;
}

export async function finished(w: World, deploymentId: string): Promise<Message> {
  await waitFor(`deployment ${deploymentId} to finish`, () => w.eventsOf(deploymentId).some((e) => ['deploy.succeeded', 'deploy.failed', 'deploy.cancelled'].includes(e.type)));
  const last = w.eventsOf(deploymentId).find((e) => ['deploy.succeeded', 'deploy.failed', 'deploy.cancelled'].includes(e.type));
  if (last === undefined) throw new Error('unreachable');
  return last;
}

