// The conductor on the real RabbitMQ: the daemon over AMQP, the requester over STOMP, fake agents on
// their durable command queues; a 3-host rollout in batches of 1 ends succeeded and is in the ledger.
import amqp from 'amqplib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commandQueueName } from '@deploybus/protocol';
import { AMQP_URL, requireRabbit, STOMP_URL } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cleanUp, deploymentIdOf, finished, passBuild, world } from './support/conductor-world.js';

beforeAll(async () => {
  await requireRabbit();
});

let hosts: string[] = [];
afterEach(async () => {
  await cleanUp();
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    for (const host of hosts) await channel.deleteQueue(commandQueueName(host));
  } finally {
    await connection.close();
  }
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
    expect(w.eventsOf(id).map((e) => e.type)).toEqual(['deploy.queued', 'deploy.started', 'deploy.host-result', 'deploy.host-result', 'deploy.host-result', 'deploy.succeeded']);
    expect(w.fleet.verified).toEqual([true, true, true]);
    const ledger = await w.ledger();
    await waitFor('succeeded in the ledger', async () => (await ledger.deployment(id))?.state === 'succeeded');
    expect((await ledger.deployment(id))?.hosts.map((h) => h.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });
});
