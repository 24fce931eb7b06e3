// The conductor on the real RabbitMQ: the daemon over AMQP, the requester over STOMP, fake agents on
// their durable command queues; a 3-host rollout in batches of 1 ends succeeded and is in the ledger.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commandQueueName, type Message } from '@deploybus/protocol';
import { AMQP_URL, requireRabbit, STOMP_URL, deleteQueues } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { compareHosts } from '../src/index.js';
import { cleanUp, deploymentIdOf, finished, passBuild, world } from './support/conductor-world.js';

beforeAll(async () => {
  await requireRabbit();
});

let hosts: string[] = [];
afterEach(async () => {
  await cleanUp();
  await deleteQueues(hosts.map(commandQueueName));
  hosts = [];
});

describe('conductor on RabbitMQ', () => {
  it('rolls a signed deploy out to 3 agents in batches of 1, requested over STOMP, run over AMQP', async () => {
    hosts = [randomName('web'), randomName('web'), randomName('web')];
    const app = randomName('app').replace('-', '');
    const w = await world({ hosts, app, busUrl: AMQP_URL, clientBusUrl: STOMP_URL, keepaliveHost: randomName('ka') });
    await w.start();
    await passBuild(w, undefined, app);
    const reply = await w.request({});
    expect(reply.type).toBe('deploy.queued');
    const id = deploymentIdOf(reply);
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.succeeded');
    expect(w.eventsOf(id).map((e) => e.type)).toEqual(['deploy.queued', 'deploy.started', 'deploy.batch', 'deploy.host-result', 'deploy.batch', 'deploy.host-result', 'deploy.batch', 'deploy.host-result', 'deploy.succeeded']);
    expect(w.fleet.verified).toEqual([true, true, true]);
    const ledger = await w.ledger();
    await waitFor('succeeded in the ledger', async () => (await ledger.deployment(id))?.state === 'succeeded');
    expect((await ledger.deployment(id))?.hosts.map((h) => h.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('answers lock.requested, state.query and deploy.cancel-requested sent over STOMP', async () => {
    hosts = [randomName('web'), randomName('web')];
    const app = randomName('app').replace('-', '');
    const env = randomName('env').replace('-', '');
    const w = await world({ hosts, app, busUrl: AMQP_URL, clientBusUrl: STOMP_URL, keepaliveHost: randomName('ka') });
    const first = [...hosts].sort(compareHosts)[0] ?? ''; // the first host of the rollout
    w.fleet.behaviour.set(first, 'hold');
    await w.start();
    await passBuild(w, undefined, app);
    const ask = async (message: Message): Promise<Message> => {
      const result = await w.client.request(message, { expect: ['ops1'], timeoutMs: 10_000 });
      const reply = result.replies.get('ops1');
      if (reply === undefined) throw new Error(`no answer to ${message.type}`);
      return reply;
    };

    const locked = await ask(w.client.message('lock.requested', { env, action: 'lock', by: 'bob', reason: 'broker test' }, { expectReplies: true }));
    expect(locked.payload).toMatchObject({ env, outcome: 'locked', locked: true });
    const locks = await ask(w.client.message('state.query', { kind: 'locks', env }, { expectReplies: true }));
    expect(locks.payload).toMatchObject({ kind: 'locks', result: [{ env, by: 'bob', reason: 'broker test' }] });
    const bad = await ask(w.client.message('state.query', { kind: 'history', limit: 100_000 }, { expectReplies: true }));
    expect((bad.payload as { error: string }).error).toMatch(/^limit: /);

    const id = deploymentIdOf(await w.request({}));
    await waitFor('the first host holds its deploy', () => w.fleet.held.length === 1);
    const cancelled = await ask(w.client.message('deploy.cancel-requested', { deploymentId: id, by: 'ada', reason: 'broker test' }, { expectReplies: true }));
    expect(cancelled.payload).toMatchObject({ deploymentId: id, outcome: 'cancelling' });
    await w.fleet.held.shift()?.();
    expect((await finished(w, id)).type).toBe('deploy.cancelled');
    expect(w.fleet.commands.map((c) => c.payload.host)).toEqual([first]);
  });
});
