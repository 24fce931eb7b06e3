// A cancel that arrives while the rollout is being started: the conductor looked the deployment up as
// queued, the rollout started during that look-up. The cancel must stop the rollout (answer
// "cancelling", no host after the batch in flight), never mark the deployment cancelled while its
// rollout goes on deploying every host.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { commandQueueName, commandRoutingKey, generateSigningKeyPair, isMessageOfType, type Message } from '@deploybus/protocol';
import { openLedger, type Ledger } from '@deploybus/store';
import { DeployCoordinator } from '../src/index.js';
import { randomName, sleep, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { SHA } from './support/conductor-world.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean().catch(() => undefined);
});

async function connect(url: string, service: string, host: string): Promise<Bus> {
  const bus = await connectBus(url, { service, host });
  cleanups.push(() => bus.close());
  return bus;
}

/** The ledger as the conductor sees it: markRunning calls `onMarkRunning` first; once `slowReads` is set, deployment() answers 300 ms late. */
function slowLedger(ledger: Ledger, hooks: { onMarkRunning: () => void; slowReads: boolean }): Ledger {
  return new Proxy(ledger, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      if (prop === 'markRunning') {
        return async (...args: unknown[]) => {
          hooks.onMarkRunning();
          await sleep(200);
          return fn.apply(target, args);
        };
      }
      if (prop === 'deployment') {
        return async (...args: unknown[]) => {
          if (hooks.slowReads) await sleep(300);
          return fn.apply(target, args);
        };
      }
      return fn.bind(target);
    },
  });
}

it('a cancel that looked a deployment up as queued while its rollout started cancels the rollout, not just the ledger row', async () => {
  const url = `memory://${randomName('cancel-race')}`;
  const dir = await mkdtemp(join(tmpdir(), 'cancel-race-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const ledger = await openLedger(`sqlite:${join(dir, 'ledger.db')}`);
  cleanups.push(() => ledger.close());
  await ledger.migrate();
  await ledger.recordBuild({ repo: 'shop', sha: SHA, status: 'succeeded', job: 'ci', number: 1, url: 'http://ci.example.com/1', at: new Date().toISOString() });

  const hosts = ['web1', 'web2'];
  const keepalive = await connect(url, 'keepalive', 'ka1');
  await keepalive.subscribe({ patterns: ['roster.query'] }, async (query) => {
    const now = new Date().toISOString();
    const entries = hosts.map((host) => ({ service: 'deploy-agent', host, instance: `${host}-1`, version: '0.1.0', state: 'up' as const, firstSeen: now, lastSeen: now, uptimeMs: 1, intervalMs: 10_000, apps: [{ app: 'shop', env: 'production' }] }));
    await keepalive.reply(query, keepalive.message('roster.reply', { entries, observer: 'ka1-1' }, { correlationId: query.id }));
  });
  const agents = await connect(url, 'deploy-agent', 'fleet');
  const commands: string[] = [];
  for (const host of hosts) {
    await agents.subscribe({ queue: commandQueueName(host), patterns: [commandRoutingKey(host)] }, async (command) => {
      if (!isMessageOfType(command, 'agent.command')) return;
      commands.push(host);
      await sleep(500); // the first batch is still in flight when the cancel is handled
      await agents.reply(command, agents.message('agent.reply', { commandId: command.payload.commandId, host, status: 'succeeded', release: 'r-new' }, { correlationId: command.id }));
    });
  }
  const client = await connect(url, 'cli', 'laptop');
  const events: Message[] = [];
  await client.subscribe({ patterns: ['deploy.#'] }, (event) => {
    events.push(event);
  });

  let deploymentId = '';
  let cancelAnswer: Message | undefined;
  const hooks = {
    slowReads: false,
    onMarkRunning: (): void => {
      // The cancel arrives just as the rollout is marked running; its look-up of the deployment is slow.
      hooks.slowReads = true;
      const cancel = client.message('deploy.cancel-requested', { deploymentId, by: 'ada', reason: 'wrong ref' }, { expectReplies: true });
      void client.request(cancel, { expect: ['ops1'], timeoutMs: 10_000 }).then((result) => {
        cancelAnswer = result.replies.get('ops1');
      });
    },
  };
  const conductorBus = await connect(url, 'conductor', 'ops1');
  const keys = generateSigningKeyPair();
  const coordinator = new DeployCoordinator({
    bus: conductorBus,
    ledger: slowLedger(ledger, hooks),
    logger: pino({ level: 'silent' }),
    source: { service: 'conductor', host: 'ops1' },
    instance: 'ops1-1',
    signing: { keyId: 'k1', privateKey: keys.privateKey },
    roster: { keepaliveHosts: ['ka1'], timeoutMs: 5_000 },
    commandTtlMs: 60_000,
    leaseTtlMs: 30_000,
    admins: [],
    resolveRef: async (_app, ref) => ref,
    hasRepository: () => false,
    listTags: async () => undefined,
  });
  await coordinator.start();
  cleanups.push(() => coordinator.stop());

  const request = client.message('deploy.requested', { app: 'shop', env: 'production', ref: SHA, requestedBy: 'ada', rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 5_000 } }, { expectReplies: true });
  const queued = (await client.request(request, { expect: ['ops1'], timeoutMs: 10_000 })).replies.get('ops1');
  expect(queued?.type).toBe('deploy.queued');
  deploymentId = (queued?.payload as { deploymentId: string }).deploymentId;

  await waitFor('the rollout to end', () => events.some((e) => ['deploy.succeeded', 'deploy.failed', 'deploy.cancelled'].includes(e.type) && (e.payload as { deploymentId?: string }).deploymentId === deploymentId), 15_000);
  await waitFor('the cancel to be answered', () => cancelAnswer !== undefined, 10_000);
  expect(cancelAnswer?.payload).toMatchObject({ deploymentId, outcome: 'cancelling', state: 'running' });
  // The batch in flight (web1) finished; web2 never got a command.
  expect(commands).toEqual(['web1']);
  expect(events.map((e) => e.type)).not.toContain('deploy.succeeded');
  expect(await ledger.deployment(deploymentId)).toMatchObject({ state: 'cancelled' });
});
