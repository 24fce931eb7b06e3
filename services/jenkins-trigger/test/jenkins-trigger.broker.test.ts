// jenkins-trigger on the real RabbitMQ: the daemon speaks AMQP, the test's publisher and observer
// speak STOMP, and the fake Jenkins stands in for Jenkins.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { routingSegment, type Message } from '@deploybus/protocol';
import { CaptureLogger } from '../../../packages/bus/test/support/capture-logger.js';
import { AMQP_URL, requireRabbit, STOMP_URL } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { NOTIFY_TOKEN, startTrigger } from './support/daemon-harness.js';
import { FakeJenkins } from './support/fake-jenkins.js';
import { API_TOKEN, SHA, USER } from './support/relay-harness.js';

beforeAll(async () => {
  await requireRabbit();
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Scene {
  readonly repo: string;
  readonly jenkins: FakeJenkins;
  readonly client: Bus;
  readonly seen: Message[];
  readonly lines: string[];
}

async function scene(options: { poll?: Record<string, number>; retry?: Record<string, number> } = {}): Promise<Scene> {
  const repo = randomName('shop');
  const jenkins = new FakeJenkins({ user: USER, token: API_TOKEN, jobs: ['team/shop-ci'], autoStartMs: 30 });
  await jenkins.listen();
  cleanups.push(() => jenkins.close());
  const daemon = await startTrigger({
    busUrl: AMQP_URL,
    jenkins,
    jobs: [{ repo, refs: ['refs/heads/main'], job: 'team/shop-ci' }],
    ...(options.poll ? { poll: options.poll } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
  });
  cleanups.push(() => daemon.stop());
  jenkins.notifyUrl = `${daemon.notifyUrl}?token=${NOTIFY_TOKEN}`;
  const client = await connectBus(STOMP_URL, { service: 'jt-broker-test', host: 'observer', logger: new CaptureLogger() });
  cleanups.push(() => client.close());
  const seen: Message[] = [];
  await client.subscribe({ patterns: [`build.*.${routingSegment(repo)}`] }, (message) => void seen.push(message));
  return { repo, jenkins, client, seen, lines: daemon.lines };
}

function push(s: Scene): Promise<void> {
  return s.client.publish(
    s.client.message('commit.pushed', { repo: s.repo, ref: 'refs/heads/main', before: '0000000000000000000000000000000000000000', after: SHA, commits: [], pusher: 'ada', origin: 'github' }),
  );
}

const types = (seen: readonly Message[]): string[] => seen.map((m) => m.type);

describe('jenkins-trigger on RabbitMQ', () => {
  it('commit.pushed -> build.requested -> build.started -> notification -> build.succeeded', async () => {
    // The build poll is slow: the outcome must come by the Notification plugin's POST.
    const s = await scene({ poll: { intervalMs: 600_000 } });
    await push(s);
    await waitFor('build.started', () => types(s.seen).includes('build.started'), 30_000);
    const started = s.seen.find((m) => m.type === 'build.started');
    expect(started?.payload).toMatchObject({ repo: s.repo, sha: SHA, job: 'team/shop-ci', number: 1, url: `${s.jenkins.url}/job/team/job/shop-ci/1/` });
    s.jenkins.finishBuild('team/shop-ci', 1, 'SUCCESS', 2_500);
    await waitFor('build.succeeded', () => types(s.seen).includes('build.succeeded'), 30_000);
    await s.jenkins.notificationsSettled();
    expect(types(s.seen)).toEqual(['build.requested', 'build.started', 'build.succeeded']);
    expect(s.seen[0]?.payload).toMatchObject({ queueUrl: `${s.jenkins.url}/queue/item/1/` });
    expect(s.seen[2]?.payload).toMatchObject({ repo: s.repo, ref: 'refs/heads/main', sha: SHA, number: 1, durationMs: 2_500 });
    expect(s.seen.every((m) => m.source.service === 'jenkins-trigger')).toBe(true);
    const everything = [...s.lines, ...s.seen.map((m) => JSON.stringify(m))].join('\n');
    expect(everything).not.toContain(API_TOKEN);
    expect(everything).not.toContain(NOTIFY_TOKEN);
  });

  it('rides out a Jenkins answering 500 for a while, then ends in build.started and build.succeeded', async () => {
    const s = await scene({ retry: { attempts: 6, initialDelayMs: 20, maxDelayMs: 200 } });
    // Four 500s while starting the build (retried with backoff) ...
    s.jenkins.failNext(4);
    await push(s);
    await waitFor('build.requested', () => types(s.seen).includes('build.requested'), 30_000);
    expect(s.jenkins.requests.filter((r) => r.status === 500)).toHaveLength(4);
    // ... and more while the daemon follows the queue item and the build.
    s.jenkins.failNext(5);
    await waitFor('build.started', () => types(s.seen).includes('build.started'), 30_000);
    // The notification is lost (no notify URL any more): the poll must find the outcome.
    s.jenkins.notifyUrl = undefined;
    s.jenkins.failNext(3);
    s.jenkins.finishBuild('team/shop-ci', 1, 'SUCCESS');
    await waitFor('build.succeeded', () => types(s.seen).includes('build.succeeded'), 30_000);
    expect(types(s.seen)).toEqual(['build.requested', 'build.started', 'build.succeeded']);
    expect(s.jenkins.triggered()).toHaveLength(1);
    expect(s.lines.some((l) => l.includes('Jenkins unavailable; trying again'))).toBe(true);
  });
});
