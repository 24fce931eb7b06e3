// The two-server scenario over the real RabbitMQ: one server speaks STOMP, the other AMQP.
import { beforeAll, describe, it } from 'vitest';
import { AMQP_URL, requireRabbit, STOMP_URL } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName } from '../../../packages/bus/test/support/wait-for.js';
import { twoServersFetchOnBuild } from './support/scenario.js';

beforeAll(async () => {
  await requireRabbit();
});

describe('repo-updater on RabbitMQ with real git', () => {
  it('a STOMP server and an AMQP server both mirror the origin and fetch a new tag after build.succeeded', async () => {
    await twoServersFetchOnBuild({ busUrls: [STOMP_URL, AMQP_URL], repo: randomName('shop'), otherRepo: randomName('api') });
  });

  it('the same with the observer on AMQP', async () => {
    await twoServersFetchOnBuild({ busUrls: [AMQP_URL, STOMP_URL], repo: randomName('shop'), otherRepo: randomName('api') });
  });
});
