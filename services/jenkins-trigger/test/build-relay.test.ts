import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CaptureLogger } from '../../../packages/bus/test/support/capture-logger.js';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { StateFile, type BuildNotification } from '../src/index.js';
import { API_TOKEN, relayHarness, SHA, USER, type RelayHarness } from './support/relay-harness.js';

const open: RelayHarness[] = [];
async function harness(options: Parameters<typeof relayHarness>[0] = {}): Promise<RelayHarness> {
  const h = await relayHarness(options);
  open.push(h);
  return h;
}
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

function completed(job: string, number: number, result: BuildNotification['result'], extra: Partial<BuildNotification> = {}): BuildNotification {
  return { job, number, phase: 'COMPLETED', result, queueId: undefined, durationMs: 5000, ...extra };
}

/** Pushes, then polls the queue until the build started. */
async function startedBuild(h: RelayHarness): Promise<number> {
  await h.relay.onCommitPushed(h.pushed());
  const build = h.jenkins.startQueued();
  await h.relay.pollQueue();
  await h.waitForType('build.started');
  return build.number;
}

describe('starting builds', () => {
  it('starts the mapped job with REPO, REF, SHA and the fixed parameters, publishes build.requested, then build.started from the queue item', async () => {
    const h = await harness();
    await h.relay.onCommitPushed(h.pushed());
    const [item] = h.jenkins.triggered();
    expect(item?.job).toBe('shop-ci');
    expect(Object.fromEntries(item?.parameters ?? [])).toEqual({ REPO: 'shop', REF: 'refs/heads/main', SHA, TARGET: 'staging' });
    const [requested] = await h.waitForType('build.requested');
    expect(requested?.payload).toEqual({ repo: 'shop', ref: 'refs/heads/main', sha: SHA, job: 'shop-ci', queueUrl: `${h.jenkins.url}/queue/item/1/` });

    await h.relay.pollQueue();
    await h.flush();
    expect(h.types()).toEqual(['build.requested']);

    h.jenkins.startQueued();
    await h.relay.pollQueue();
    const [started] = await h.waitForType('build.started');
    expect(started?.payload).toEqual({ repo: 'shop', ref: 'refs/heads/main', sha: SHA, job: 'shop-ci', number: 1, url: `${h.jenkins.url}/job/shop-ci/1/` });
    expect(h.jenkins.requests.every((r) => r.user === USER)).toBe(true);
  });

  it('publishes build.requested once, before build.started, when the queue poll overtakes a slow publish', async () => {
    const h = await harness({ requestedPublishDelayMs: 100 });
    const pushing = h.relay.onCommitPushed(h.pushed());
    await waitFor('the build in the tracker', () => h.tracker.size === 1);
    h.jenkins.startQueued();
    await h.relay.pollQueue();
    await pushing;
    await h.flush();
    expect(h.types()).toEqual(['build.requested', 'build.started']);
  });

  it('triggers nothing for a deleted ref or a ref no mapping names', async () => {
    const h = await harness();
    await h.relay.onCommitPushed(h.pushed({ after: '0000000000000000000000000000000000000000', before: SHA }));
    await h.relay.onCommitPushed(h.pushed({ ref: 'refs/heads/feature/x' }));
    await h.relay.onCommitPushed(h.pushed({ repo: 'other' }));
    await h.flush();
    expect(h.jenkins.requests).toEqual([]);
    expect(h.seen).toEqual([]);
  });

  it('starts a tag build for a tag mapping', async () => {
    const h = await harness({ jobs: [{ repo: 'shop', refs: ['refs/tags/v*'], job: 'team/shop' }] });
    await h.relay.onCommitPushed(h.pushed({ ref: 'refs/heads/v1' }));
    expect(h.jenkins.triggered()).toEqual([]);
    await h.relay.onCommitPushed(h.pushed({ ref: 'refs/tags/v1.2.0' }));
    expect(h.jenkins.triggered().map((i) => [i.job, i.parameters.get('REF')])).toEqual([['team/shop', 'refs/tags/v1.2.0']]);
  });

  it('starts one build for a redelivered push', async () => {
    const h = await harness();
    const message = h.pushed();
    await h.relay.onCommitPushed(message);
    await h.relay.onCommitPushed(message);
    expect(h.jenkins.triggered()).toHaveLength(1);
    await h.flush();
    expect(h.types()).toEqual(['build.requested']);
  });

  it('does not retry a 401: one error line naming the user and URL, and build.failed ERROR', async () => {
    const h = await harness();
    h.jenkins.refuseCredentials();
    await h.relay.onCommitPushed(h.pushed());
    const [failed] = await h.waitForType('build.failed');
    expect(failed?.payload).toEqual({ repo: 'shop', ref: 'refs/heads/main', sha: SHA, job: 'shop-ci', result: 'ERROR', reason: `Jenkins refused the credentials for user ${USER} (HTTP 401)` });
    expect(h.jenkins.requests).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
    const errors = h.logger.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toContain(USER);
    expect(errors[0]?.msg).toContain(h.jenkins.url);
    expect(JSON.stringify(h.logger.lines)).not.toContain(API_TOKEN);
  });

  it('retries a 5xx with backoff and then succeeds', async () => {
    const h = await harness({ attempts: 4 });
    h.jenkins.failNext(2, 503);
    await h.relay.onCommitPushed(h.pushed());
    await h.waitForType('build.requested');
    expect(h.jenkins.triggered()).toHaveLength(1);
    expect(h.sleeps).toHaveLength(2);
    expect(h.sleeps[1]).toBeGreaterThanOrEqual(10); // the second delay's floor is half of 2 × 10 ms
    expect(h.jenkins.requests.filter((r) => r.status === 503)).toHaveLength(2);
    await h.flush();
    expect(h.types()).toEqual(['build.requested']);
  });

  it('gives up after the configured attempts and publishes build.failed ERROR with the reason', async () => {
    const h = await harness({ attempts: 3 });
    h.jenkins.failNext(10, 500);
    await h.relay.onCommitPushed(h.pushed());
    const [failed] = await h.waitForType('build.failed');
    expect(failed?.payload).toMatchObject({ job: 'shop-ci', result: 'ERROR' });
    expect(failed?.payload.reason).toMatch(/^Jenkins could not be reached after 3 attempts: .*HTTP 500/);
    expect(h.jenkins.requests).toHaveLength(3);
    expect(h.sleeps).toHaveLength(2);
  });

  it('treats malformed JSON from Jenkins like a 5xx (retried)', async () => {
    const h = await harness();
    h.jenkins.malformedNext(1); // the crumb issuer's answer
    await h.relay.onCommitPushed(h.pushed());
    await h.waitForType('build.requested');
    expect(h.sleeps).toHaveLength(1);
    expect(h.logger.lines.some((l) => l.level === 'warn' && String(l.fields['err']).includes('malformed JSON'))).toBe(true);
  });

  it('reports a Jenkins that refuses connections as build.failed ERROR after the attempts', async () => {
    const h = await harness({ attempts: 2 });
    await h.jenkins.close();
    await h.relay.onCommitPushed(h.pushed());
    const [failed] = await h.waitForType('build.failed');
    expect(failed?.payload.reason).toMatch(/after 2 attempts: .*(refused|closed)/);
  });

  it('reports an unknown job as build.failed ERROR without retrying', async () => {
    const h = await harness({ jobs: [{ repo: 'shop', refs: ['refs/heads/main'], job: 'gone' }] });
    await h.relay.onCommitPushed(h.pushed());
    const [failed] = await h.waitForType('build.failed');
    expect(failed?.payload.reason).toContain('HTTP 404');
    expect(h.sleeps).toEqual([]);
  });

  it('reports a cancelled queue item as build.failed ABORTED', async () => {
    const h = await harness();
    await h.relay.onCommitPushed(h.pushed());
    h.jenkins.cancelQueued(1);
    await h.relay.pollQueue();
    const [failed] = await h.waitForType('build.failed');
    expect(failed?.payload).toMatchObject({ result: 'ABORTED', job: 'shop-ci' });
    expect(failed?.payload.reason).toContain('cancelled');
    expect(h.tracker.size).toBe(0);
  });
});

describe('build outcomes', () => {
  it('publishes build.succeeded from a notification, with the duration', async () => {
    const h = await harness();
    const number = await startedBuild(h);
    h.jenkins.finishBuild('shop-ci', number, 'SUCCESS');
    expect(await h.relay.onNotification(completed('shop-ci', number, 'SUCCESS', { durationMs: 81_000 }))).toBe('published');
    const [succeeded] = await h.waitForType('build.succeeded');
    expect(succeeded?.payload).toEqual({ repo: 'shop', ref: 'refs/heads/main', sha: SHA, job: 'shop-ci', number, url: `${h.jenkins.url}/job/shop-ci/${number}/`, durationMs: 81_000 });
  });

  it('publishes build.failed with Jenkins\' result for FAILURE, UNSTABLE and ABORTED', async () => {
    const h = await harness();
    for (const [i, result] of (['FAILURE', 'UNSTABLE', 'ABORTED'] as const).entries()) {
      await h.relay.onCommitPushed(h.pushed({ after: `${i + 1}`.repeat(40) }));
      const build = h.jenkins.startQueued();
      await h.relay.pollQueue();
      await h.relay.onNotification(completed('shop-ci', build.number, result));
    }
    const failed = await h.waitForType('build.failed', 3);
    expect(failed.map((m) => [m.payload.result, m.payload.number])).toEqual([
      ['FAILURE', 1],
      ['UNSTABLE', 2],
      ['ABORTED', 3],
    ]);
  });

  it('publishes once for COMPLETED, FINALIZED, a repeated notification and a later poll', async () => {
    const h = await harness();
    const number = await startedBuild(h);
    h.jenkins.finishBuild('shop-ci', number, 'SUCCESS');
    const outcomes = await Promise.all([
      h.relay.onNotification(completed('shop-ci', number, 'SUCCESS')),
      h.relay.onNotification(completed('shop-ci', number, 'SUCCESS', { phase: 'FINALIZED' })),
      h.relay.pollBuilds(),
    ]);
    expect(outcomes.filter((o) => o === 'published').length).toBeLessThanOrEqual(1);
    expect(await h.relay.onNotification(completed('shop-ci', number, 'SUCCESS'))).toBe('duplicate');
    await h.relay.pollBuilds();
    await h.flush();
    expect(h.types()).toEqual(['build.requested', 'build.started', 'build.succeeded']);
  });

  it('links a notification to a queued build by its queue id when the poll has not seen the number yet', async () => {
    const h = await harness();
    await h.relay.onCommitPushed(h.pushed());
    const build = h.jenkins.startQueued();
    expect(await h.relay.onNotification({ job: 'shop-ci', number: build.number, phase: 'STARTED', result: undefined, queueId: build.queueId, durationMs: undefined })).toBe('started');
    h.jenkins.finishBuild('shop-ci', build.number, 'SUCCESS');
    expect(await h.relay.onNotification(completed('shop-ci', build.number, 'SUCCESS'))).toBe('published');
    await h.flush();
    expect(h.types()).toEqual(['build.requested', 'build.started', 'build.succeeded']);
  });

  it('finds the outcome by polling when no notification comes', async () => {
    const h = await harness();
    const number = await startedBuild(h);
    await h.relay.pollBuilds();
    await h.flush();
    expect(h.types()).toEqual(['build.requested', 'build.started']);
    h.jenkins.finishBuild('shop-ci', number, 'SUCCESS', 4_200);
    await h.relay.pollBuilds();
    const [succeeded] = await h.waitForType('build.succeeded');
    expect(succeeded?.payload).toMatchObject({ number, durationMs: 4_200 });
    expect(h.jenkins.requests.some((r) => r.path === `/job/shop-ci/${number}/api/json`)).toBe(true);
  });

  it('ignores, with a log line, a notification for a build it did not start', async () => {
    const h = await harness();
    const number = await startedBuild(h);
    expect(await h.relay.onNotification(completed('shop-ci', number + 5, 'SUCCESS'))).toBe('unknown');
    expect(await h.relay.onNotification(completed('other-job', number, 'SUCCESS'))).toBe('unknown');
    await h.flush();
    expect(h.types()).toEqual(['build.requested', 'build.started']);
    expect(h.logger.lines.filter((l) => l.msg.includes('did not start'))).toHaveLength(2);
  });

  it('reports a build running past maxBuildMs as failed with the reason', async () => {
    const h = await harness({ maxBuildMs: 60_000 });
    const number = await startedBuild(h);
    h.advance(30_000);
    await h.relay.pollBuilds();
    await h.flush();
    expect(h.types()).not.toContain('build.failed');
    h.advance(31_000);
    await h.relay.pollBuilds();
    const [failed] = await h.waitForType('build.failed');
    expect(failed?.payload).toMatchObject({ number, result: 'ERROR' });
    expect(failed?.payload.reason).toContain('maxBuildMs');
    // The real end comes later: it is not reported a second time.
    h.jenkins.finishBuild('shop-ci', number, 'SUCCESS');
    expect(await h.relay.onNotification(completed('shop-ci', number, 'SUCCESS'))).toBe('duplicate');
  });

  it('finds the build of a queue item Jenkins has forgotten (the daemon was away while it started) by its queueId', async () => {
    const h = await harness({ maxBuildMs: 60_000 });
    await h.relay.onCommitPushed(h.pushed());
    const build = h.jenkins.startQueued();
    // Notifications went nowhere, and Jenkins dropped the queue item before the next poll.
    h.jenkins.forgetQueueItem(build.queueId);
    h.jenkins.finishBuild('shop-ci', build.number, 'SUCCESS', 3_000);
    await h.relay.pollQueue();
    const [started] = await h.waitForType('build.started');
    expect(started?.payload).toMatchObject({ job: 'shop-ci', number: build.number });
    expect(h.jenkins.requests.some((r) => r.path === '/job/shop-ci/api/json' && r.query.includes('queueId'))).toBe(true);
    await h.relay.pollBuilds();
    const [succeeded] = await h.waitForType('build.succeeded');
    expect(succeeded?.payload).toMatchObject({ number: build.number, durationMs: 3_000 });
    expect(h.types()).not.toContain('build.failed');
  });

  it('follows a request Jenkins folded into a queued item of the same push once, and publishes its outcome once', async () => {
    const h = await harness();
    // The same push seen twice (a webhook and a poller): two messages, identical parameters.
    await h.relay.onCommitPushed(h.pushed());
    await h.relay.onCommitPushed(h.pushed());
    expect(h.jenkins.triggered()).toHaveLength(1); // Jenkins folded the second request into the first item
    expect(h.tracker.size).toBe(1);
    const number = await (async () => {
      const build = h.jenkins.startQueued();
      await h.relay.pollQueue();
      return build.number;
    })();
    h.jenkins.finishBuild('shop-ci', number, 'SUCCESS');
    await h.relay.pollBuilds();
    await h.waitForType('build.succeeded');
    await h.flush();
    expect(h.types()).toEqual(['build.requested', 'build.started', 'build.succeeded']);
    expect(h.tracker.size).toBe(0);
  });

  it('reports a build Jenkins never starts within maxBuildMs as failed', async () => {
    const h = await harness({ maxBuildMs: 60_000 });
    await h.relay.onCommitPushed(h.pushed());
    h.advance(61_000);
    await h.relay.pollQueue();
    const [failed] = await h.waitForType('build.failed');
    expect(failed?.payload).toMatchObject({ result: 'ERROR', job: 'shop-ci' });
    expect(failed?.payload).not.toHaveProperty('number');
    expect(failed?.payload.reason).toContain('did not start');
  });
});

describe('restarts', () => {
  it('keeps following builds in flight and remembers finished ones through the state file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jenkins-trigger-state-'));
    try {
      const file = new StateFile(join(dir, 'state.json'), new CaptureLogger());
      const first = await harness({ save: (state) => file.save(state) });
      // Two builds: one still queued, one running, when the daemon goes away.
      await first.relay.onCommitPushed(first.pushed());
      first.jenkins.startQueued();
      await first.relay.pollQueue();
      await first.relay.onCommitPushed(first.pushed({ after: 'b'.repeat(40) }));
      await first.waitForType('build.started');
      await first.waitForType('build.requested', 2);

      const state = await file.load();
      expect(state?.inFlight).toHaveLength(2);
      const second = await harness({ state, save: (s) => file.save(s), jenkins: first.jenkins, busName: first.busName });
      first.jenkins.finishBuild('shop-ci', 1, 'SUCCESS');
      first.jenkins.startQueued();
      await second.relay.pollQueue();
      await second.relay.pollBuilds();
      await second.waitForType('build.succeeded');
      await second.waitForType('build.started');
      expect(second.seen.filter((m) => m.type === 'build.succeeded').map((m) => m.payload)).toMatchObject([{ number: 1, sha: SHA }]);
      expect(second.seen.filter((m) => m.type === 'build.started').map((m) => m.payload)).toMatchObject([{ number: 2, sha: 'b'.repeat(40) }]);

      // A third life: build #1 is known as finished, so its late notification publishes nothing.
      const third = await harness({ state: await file.load(), jenkins: first.jenkins, busName: first.busName });
      expect(await third.relay.onNotification(completed('shop-ci', 1, 'SUCCESS'))).toBe('duplicate');
      expect(third.tracker.running().map((b) => b.number)).toEqual([2]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sets an unreadable state file aside instead of failing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jenkins-trigger-state-'));
    try {
      const { writeFile, readdir } = await import('node:fs/promises');
      await writeFile(join(dir, 'state.json'), '{"version": 1, "inFl');
      const logger = new CaptureLogger();
      expect(await new StateFile(join(dir, 'state.json'), logger).load()).toBeUndefined();
      expect((await readdir(dir)).some((name) => name.startsWith('state.json.bad-'))).toBe(true);
      expect(logger.lines.some((l) => l.level === 'error' && l.msg.includes('moved aside'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
