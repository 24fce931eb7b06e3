// The notifier on the real RabbitMQ: conductor over AMQP, notifier and requester over STOMP. A deploy's
// events reach a real receiver signed and in the event log's order; the receiver down for a while gets
// what it missed, once, when back.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commandQueueName } from '@deploybus/protocol';
import { AMQP_URL, requireRabbit, STOMP_URL, deleteQueues } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cleanUp, cleanups, deploymentIdOf, finished, passBuild } from '../../conductor/test/support/conductor-world.js';
import { CallbackReceiver } from './support/callback-receiver.js';
import { FAST_DELIVERY, notifierWorld } from './support/notifier-world.js';

beforeAll(async () => {
  await requireRabbit();
});

let hosts: string[] = [];
afterEach(async () => {
  await cleanUp();
  await deleteQueues(hosts.map(commandQueueName));
  hosts = [];
});

describe('notifier on RabbitMQ', () => {
  it('delivers a deploy signed and in order, and catches a receiver up after it was down', async () => {
    hosts = [randomName('web'), randomName('web')];
    const app = randomName('app').replace('-', '');
    const w = await notifierWorld({ hosts, app, busUrl: AMQP_URL, clientBusUrl: STOMP_URL, keepaliveHost: randomName('ka') });
    await w.start();
    await w.startNotifier({ host: randomName('notify'), bus: { url: STOMP_URL }, delivery: FAST_DELIVERY });
    const r = new CallbackReceiver();
    await r.start();
    cleanups.push(() => r.stop());
    const created = await w.subscriptions({ action: 'create', url: r.url(), events: ['deploy.*'], app, secret: 'broker-test-secret-0123' });
    expect(created.outcome).toBe('created');
    r.secret = 'broker-test-secret-0123';
    await passBuild(w, undefined, app);

    const first = deploymentIdOf(await w.request({}));
    await finished(w, first);
    const ledger = await w.ledger();
    const idsOf = async (deploymentId: string): Promise<string[]> => {
      // The conductor publishes an event, then records it: wait for the deploy's last one in the ledger.
      const of = async (): Promise<Array<{ id: string; type: string }>> => (await ledger.eventsAfter(0, 10_000)).events.filter((e) => e.deploymentId === deploymentId && e.type.startsWith('deploy.'));
      await waitFor(`deployment ${deploymentId} ended in the ledger`, async () => (await of()).some((e) => e.type === 'deploy.succeeded'));
      return (await of()).map((e) => e.id);
    };
    const expectedFirst = await idsOf(first);
    await waitFor('the first deploy delivered', () => r.calls.length >= expectedFirst.length, 30_000);
    expect(r.eventIds()).toEqual(expectedFirst);

    await r.stop();
    const second = deploymentIdOf(await w.request({}));
    await finished(w, second);
    await r.start();
    const expected = [...expectedFirst, ...(await idsOf(second))];
    await waitFor('the missed deploy delivered', () => r.calls.length >= expected.length, 30_000);
    expect(r.eventIds()).toEqual(expected);
    expect(r.calls.every((c) => c.verified)).toBe(true);
  });
});
