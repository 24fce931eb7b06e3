// The webhook endpoint publishing to the real RabbitMQ: a signed GitHub push arrives at a subscriber;
// a forged one publishes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import type { GitWatcher } from '../src/index.js';
import { AMQP_URL, requireRabbit, STOMP_URL } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, sleep, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { githubExamples, postGithub, startWatcher, tempDir } from './watcher-support.js';

let publisher: Bus;
let subscriber: Bus;
let watcher: GitWatcher;
let data: { dir: string; remove: () => void };

beforeAll(async () => {
  await requireRabbit();
  publisher = await connectBus(AMQP_URL, { service: 'git-watcher', host: 'test' });
  subscriber = await connectBus(STOMP_URL, { service: 'test', host: 'test' });
  data = tempDir('gw-broker');
  ({ watcher } = await startWatcher(publisher, data.dir));
});

afterAll(async () => {
  await watcher?.stop();
  await publisher?.close();
  await subscriber?.close();
  data?.remove();
});

describe('git-watcher webhooks on the real broker', () => {
  it('publishes a signed GitHub push (AMQP) that a STOMP subscriber receives; a forged one publishes nothing', async () => {
    const repo = randomName('hello').replace(/[^a-z0-9-]/g, '');
    const received: Message[] = [];
    await subscriber.subscribe({ patterns: [`commit.pushed.${repo}`] }, (m) => void received.push(m));
    const example = githubExamples('push').find((e) => (e['commits'] as unknown[]).length > 0) ?? {};
    const body = JSON.stringify({ ...example, repository: { ...(example['repository'] as object), name: repo } });

    const forged = await postGithub(watcher, body, { secret: 'guessed-secret' });
    expect(forged.status).toBe(401);
    const genuine = await postGithub(watcher, body);
    expect(genuine.status).toBe(202);
    await waitFor('the genuine event', () => received.length === 1);
    expect(received[0]?.type === 'commit.pushed' && received[0].payload).toMatchObject({ repo, ref: 'refs/heads/master', origin: 'github' });
    expect(genuine.json['published']).toEqual([received[0]?.id]);
    await sleep(300);
    expect(received).toHaveLength(1);
  });
});
