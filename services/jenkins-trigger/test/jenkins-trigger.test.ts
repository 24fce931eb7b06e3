import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import { ConfigError, loadConfig } from '@deploybus/runtime';
import { CaptureLogger } from '../../../packages/bus/test/support/capture-logger.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { jenkinsTriggerConfigSchema } from '../src/index.js';
import { NOTIFY_TOKEN, startTrigger, type DaemonHarness } from './support/daemon-harness.js';
import { FakeJenkins } from './support/fake-jenkins.js';
import { API_TOKEN, SHA, USER } from './support/relay-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface World {
  readonly jenkins: FakeJenkins;
  readonly daemon: DaemonHarness;
  readonly client: Bus;
  readonly seen: Message[];
  readonly raw: string[];
}

/** The daemon on a fresh in-process bus, a client that publishes pushes and records everything on the bus. */
async function world(fake: Partial<ConstructorParameters<typeof FakeJenkins>[0]> = {}, poll: Record<string, number> = {}): Promise<World> {
  const busUrl = `memory://${randomName('jt-daemon')}`;
  const jenkins = new FakeJenkins({ user: USER, token: API_TOKEN, jobs: ['shop-ci'], ...fake });
  await jenkins.listen();
  cleanups.push(() => jenkins.close());
  const daemon = await startTrigger({ busUrl, jenkins, jobs: [{ repo: 'shop', refs: ['refs/heads/main'], job: 'shop-ci' }], poll });
  cleanups.push(() => daemon.stop());
  const client = await connectBus(busUrl, { service: 'test-client', host: 'client', logger: new CaptureLogger() });
  cleanups.push(() => client.close());
  const seen: Message[] = [];
  const raw: string[] = [];
  await client.subscribe({ patterns: ['#'] }, (message) => {
    seen.push(message);
    raw.push(JSON.stringify(message));
  });
  return { jenkins, daemon, client, seen, raw };
}

function push(client: Bus, sha = SHA): Promise<void> {
  return client.publish(
    client.message('commit.pushed', { repo: 'shop', ref: 'refs/heads/main', before: '0000000000000000000000000000000000000000', after: sha, commits: [], pusher: 'ada', origin: 'post-receive' }),
  );
}

const types = (seen: readonly Message[]): string[] => seen.filter((m) => m.type.startsWith('build.')).map((m) => m.type);

describe('the notification endpoint', () => {
  it('refuses a missing or wrong token with 401 and publishes nothing', async () => {
    // The build poll is slow here, so only a notification can tell the outcome.
    const w = await world({}, { intervalMs: 600_000 });
    await push(w.client);
    await waitFor('build.requested', () => types(w.seen).includes('build.requested'));
    const build = w.jenkins.startQueued();
    await waitFor('build.started', () => types(w.seen).includes('build.started'));
    w.jenkins.finishBuild('shop-ci', build.number, 'SUCCESS');
    const body = JSON.stringify({ job: 'shop-ci', number: build.number, result: 'SUCCESS' });
    const attempts = [
      fetch(w.daemon.notifyUrl, { method: 'POST', body, headers: { 'content-type': 'application/json' } }),
      fetch(`${w.daemon.notifyUrl}?token=wrong`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }),
      fetch(w.daemon.notifyUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${NOTIFY_TOKEN}x` } }),
      fetch(w.daemon.notifyUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`a:${NOTIFY_TOKEN}`).toString('base64')}` } }),
    ];
    for (const response of await Promise.all(attempts)) expect(response.status).toBe(401);
    expect(w.daemon.lines.filter((l) => l.includes('notification refused'))).toHaveLength(4);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(types(w.seen)).toEqual(['build.requested', 'build.started']);
    const accepted = await fetch(w.daemon.notifyUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${NOTIFY_TOKEN}` } });
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ outcome: 'published' });
    await waitFor('build.succeeded', () => types(w.seen).includes('build.succeeded'));
  });

  it('accepts the Notification plugin\'s JSON with ?token= and answers 400 to what is not a notification', async () => {
    const w = await world({ notifyPhases: [] });
    const bad = await fetch(`${w.daemon.notifyUrl}?token=${NOTIFY_TOKEN}`, { method: 'POST', body: '{"build": {"number": "x"}}', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    const broken = await fetch(`${w.daemon.notifyUrl}?token=${NOTIFY_TOKEN}`, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    const unknown = await fetch(`${w.daemon.notifyUrl}?token=${NOTIFY_TOKEN}`, {
      method: 'POST',
      body: JSON.stringify({ name: 'shop-ci', url: 'job/shop-ci/', build: { number: 77, phase: 'COMPLETED', status: 'SUCCESS', full_url: 'http://x/job/shop-ci/77/' } }),
    });
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toEqual({ outcome: 'unknown' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(types(w.seen)).toEqual([]);
  });
});

describe('the daemon end to end on the in-process bus', () => {
  it('goes from commit.pushed to build.succeeded through the Notification plugin, and never shows a secret', async () => {
    const w = await world({ autoStartMs: 20 });
    w.jenkins.notifyUrl = `${w.daemon.notifyUrl}?token=${NOTIFY_TOKEN}`;
    await push(w.client);
    await waitFor('build.started', () => types(w.seen).includes('build.started'));
    w.jenkins.finishBuild('shop-ci', 1, 'SUCCESS', 900);
    await waitFor('build.succeeded', () => types(w.seen).includes('build.succeeded'));
    await w.jenkins.notificationsSettled();
    expect(w.jenkins.notificationsSent.map((n) => n.status)).toEqual([200, 200, 200]);
    expect(types(w.seen)).toEqual(['build.requested', 'build.started', 'build.succeeded']);
    expect(w.seen.find((m) => m.type === 'build.succeeded')?.payload).toMatchObject({ number: 1, durationMs: 900, sha: SHA });

    // Now the faults: refused credentials, then a Jenkins answering 500 until the attempts run out.
    w.jenkins.refuseCredentials();
    await push(w.client, 'c'.repeat(40));
    await waitFor('build.failed (401)', () => types(w.seen).includes('build.failed'));
    w.jenkins.refuseCredentials(false);
    w.jenkins.failNext(3);
    await push(w.client, 'd'.repeat(40));
    await waitFor('build.failed (500)', () => types(w.seen).filter((t) => t === 'build.failed').length === 2);
    const failures = w.seen.filter((m) => m.type === 'build.failed').map((m) => m.payload.reason);
    expect(failures[0]).toBe(`Jenkins refused the credentials for user ${USER} (HTTP 401)`);
    expect(failures[1]).toMatch(/after 3 attempts/);
    const credentialErrors = w.daemon.lines.filter((l) => l.includes('"level":50') && l.includes('refused the credentials'));
    expect(credentialErrors).toHaveLength(1);
    expect(credentialErrors[0]).toContain(w.jenkins.url);

    const everything = [...w.daemon.lines, ...w.raw].join('\n');
    expect(everything).not.toContain(API_TOKEN);
    expect(everything).not.toContain(NOTIFY_TOKEN);
    expect(everything).not.toContain(Buffer.from(`${USER}:${API_TOKEN}`).toString('base64'));
  });

  it('keeps following a build in flight across a daemon restart', async () => {
    const busUrl = `memory://${randomName('jt-restart')}`;
    const dir = await mkdtemp(join(tmpdir(), 'jenkins-trigger-restart-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const jenkins = new FakeJenkins({ user: USER, token: API_TOKEN, jobs: ['shop-ci'] });
    await jenkins.listen();
    cleanups.push(() => jenkins.close());
    const jobs = [{ repo: 'shop', refs: ['refs/heads/main'], job: 'shop-ci' }];
    const client = await connectBus(busUrl, { service: 'test-client', host: 'client', logger: new CaptureLogger() });
    cleanups.push(() => client.close());
    const seen: Message[] = [];
    await client.subscribe({ patterns: ['build.#'] }, (message) => void seen.push(message));

    const first = await startTrigger({ busUrl, jenkins, jobs, dir });
    await push(client);
    await waitFor('build.requested', () => types(seen).includes('build.requested'));
    jenkins.startQueued();
    await waitFor('build.started', () => types(seen).includes('build.started'));
    await first.stop();

    jenkins.finishBuild('shop-ci', 1, 'FAILURE');
    const second = await startTrigger({ busUrl, jenkins, jobs, dir });
    cleanups.push(() => second.stop());
    await waitFor('build.failed', () => types(seen).includes('build.failed'));
    expect(second.lines.some((l) => l.includes('following builds in flight from before the restart'))).toBe(true);
    expect(seen.find((m) => m.type === 'build.failed')?.payload).toMatchObject({ number: 1, result: 'FAILURE' });
    expect(types(seen)).toEqual(['build.requested', 'build.started', 'build.failed']);
  });
});

describe('config', () => {
  const base = {
    jenkins: { url: 'https://ci.example.com/', user: 'bot', token: { env: 'T' } },
    jobs: [{ repo: 'shop', refs: ['refs/heads/main'], job: 'shop-ci' }],
    notify: { token: { env: 'N' } },
  };

  async function load(config: unknown): Promise<unknown> {
    const dir = await mkdtemp(join(tmpdir(), 'jenkins-trigger-config-'));
    try {
      await writeFile(join(dir, 'c.json'), JSON.stringify(config));
      return loadConfig(jenkinsTriggerConfigSchema, { file: join(dir, 'c.json'), env: { T: 'tok', N: 'ntok' } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('fills the defaults and normalizes the Jenkins URL', async () => {
    const config = (await load(base)) as { jenkins: { url: string; retry: unknown }; notify: { http: unknown }; poll: unknown };
    expect(config.jenkins.url).toBe('https://ci.example.com');
    expect(config.notify.http).toEqual({ port: 8651, host: '127.0.0.1' });
    expect(config.poll).toMatchObject({ intervalMs: 15_000 });
  });

  it('names the key that is wrong', async () => {
    const cases: Array<[unknown, string]> = [
      [{ ...base, jenkins: { ...base.jenkins, url: 'ftp://ci' } }, 'jenkins.url'],
      [{ ...base, jenkins: { ...base.jenkins, url: 'https://bot:secret@ci.example.com' } }, 'jenkins.url'],
      [{ ...base, jenkins: { ...base.jenkins, token: 'plain-text' } }, 'jenkins.token'],
      [{ ...base, jobs: [{ repo: 'shop', refs: ['main'], job: 'x' }] }, 'jobs[0].refs[0]'],
      [{ ...base, jobs: [{ repo: 'shop', refs: ['refs/heads/main'], job: 'a/../b' }] }, 'jobs[0].job'],
      [{ ...base, jobs: [{ repo: 'shop', refs: ['refs/heads/main'], job: 'x', parameters: { SHA: 'y' } }] }, 'jobs[0].parameters.SHA'],
      [{ ...base, pole: {} }, 'pole'],
    ];
    for (const [config, key] of cases) {
      const error = await load(config).catch((e: unknown) => e);
      expect(error, key).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).key, JSON.stringify(config)).toBe(key);
    }
  });
});
