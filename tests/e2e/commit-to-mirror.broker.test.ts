// End to end on the real RabbitMQ, every daemon of the commit-to-mirror chain running against it
// (some over STOMP, some over AMQP): a real `git push` through the installed hook, a Jenkins build
// (the stand-in) started and reported green, two servers' mirrors holding the new tag, the roster
// listing every daemon; a forged webhook refused; the broker down during a push.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import type { Message, MessageType } from '@deploybus/protocol';
import { startDaemon, type DaemonDefinition, type DaemonHandle } from '@deploybus/runtime';
import { gitWatcherDefinition } from '@deploybus/git-watcher';
import { jenkinsTrigger } from '@deploybus/jenkins-trigger';
import { keepaliveDaemon } from '@deploybus/keepalive';
import { repoUpdater } from '@deploybus/repo-updater';
import { AMQP_URL, rabbitmqctl, requireRabbit, STOMP_URL } from '../../packages/bus/test/support/rabbit-harness.js';
import { waitFor } from '../../packages/bus/test/support/wait-for.js';
import { cli, commit, git, gitPush, requireBuiltCli, sandbox, type Sandbox } from '../../services/cli/test/hook-support.js';
import { FakeJenkins } from '../../services/jenkins-trigger/test/support/fake-jenkins.js';

const JENKINS_USER = 'deploybus';
const JENKINS_TOKEN = 'e2e-api-token-7c1d';
const NOTIFY_TOKEN = 'e2e-notify-token-99ab';
const GITHUB_SECRET = 'e2e-github-secret';

let box: Sandbox;
let jenkins: FakeJenkins;
let observer: Bus;
const seen: Message[] = [];
const daemons: DaemonHandle[] = [];
const logs = new Map<string, string[]>();

function ofType<T extends MessageType>(type: T): Array<Extract<Message, { type: T }>> {
  return seen.filter((m): m is Extract<Message, { type: T }> => m.type === type);
}

async function start<S extends Parameters<typeof startDaemon>[0]['configSchema']>(name: string, definition: DaemonDefinition<S>, busUrl: string, config: Record<string, unknown>, env: Record<string, string> = {}): Promise<DaemonHandle> {
  const file = join(box.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ bus: { url: busUrl }, heartbeatIntervalMs: 500, logLevel: 'debug', ...config }));
  const lines: string[] = [];
  logs.set(name, lines);
  const handle = await startDaemon(definition, { configFile: file, env, logDestination: { write: (l) => void lines.push(l) } });
  daemons.push(handle);
  return handle;
}

function logged(name: string, msg: string): Record<string, unknown> | undefined {
  for (const line of logs.get(name) ?? []) {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (parsed['msg'] === msg) return parsed;
  }
  return undefined;
}

beforeAll(async () => {
  await requireRabbit();
  requireBuiltCli();
  box = sandbox();
  observer = await connectBus(STOMP_URL, { service: 'e2e-observer', host: 'observer' });
  await observer.subscribe({ patterns: ['commit.pushed.shop', 'build.*.shop', 'repo.updated.shop.*', 'presence.changed.#'] }, (m) => void seen.push(m));

  writeFileSync(join(box.dir, 'notify-token'), NOTIFY_TOKEN);
  jenkins = new FakeJenkins({ user: JENKINS_USER, token: JENKINS_TOKEN, jobs: ['shop-ci'], autoStartMs: 50 });
  await jenkins.listen();
  await start('keepalive', keepaliveDaemon, STOMP_URL, { host: 'ops1', minTimeoutMs: 3_000 });
  await start(
    'jenkins-trigger',
    jenkinsTrigger,
    AMQP_URL,
    {
      host: 'ci1',
      jenkins: { url: jenkins.url, user: JENKINS_USER, token: { env: 'E2E_JENKINS_TOKEN' } },
      jobs: [{ repo: 'shop', refs: ['refs/heads/main'], job: 'shop-ci' }],
      notify: { http: { port: 0, host: '127.0.0.1' }, token: { file: join(box.dir, 'notify-token') } },
      poll: { intervalMs: 500 },
      stateFile: join(box.dir, 'jenkins-trigger-state.json'),
    },
    { E2E_JENKINS_TOKEN: JENKINS_TOKEN },
  );
  // The Notification plugin posts to jenkins-trigger's endpoint, whose port is known only now.
  const notifyUrl = String(logged('jenkins-trigger', 'listening for Jenkins notifications')?.['url'] ?? '');
  if (!/^http:\/\/127\.0\.0\.1:\d+\/notify\/jenkins$/.test(notifyUrl)) throw new Error(`jenkins-trigger logged no notify URL (got "${notifyUrl}")`);
  jenkins.notifyUrl = `${notifyUrl}?token=${NOTIFY_TOKEN}`;
  await start('repo-updater-web1', repoUpdater, STOMP_URL, { host: 'web1', mirrorsDir: join(box.dir, 'mirrors-web1'), repos: [{ name: 'shop', url: box.bare }] });
  await start('repo-updater-web2', repoUpdater, AMQP_URL, { host: 'web2', mirrorsDir: join(box.dir, 'mirrors-web2'), repos: [{ name: 'shop', url: box.bare }] });
  await start(
    'git-watcher',
    gitWatcherDefinition,
    AMQP_URL,
    { host: 'git1', http: { port: 0 }, github: { secret: { env: 'E2E_GITHUB_SECRET' } }, spoolDirs: [join(box.bare, 'deploybus-spool')], spoolDrainIntervalMs: 500, dataDir: join(box.dir, 'git-watcher') },
    { E2E_GITHUB_SECRET: GITHUB_SECRET },
  );
}, 120_000);

afterAll(async () => {
  for (const d of daemons.reverse()) await d.stop().catch(() => undefined);
  await observer?.close();
  await jenkins?.close();
  box?.remove();
});

describe('commit to green build to fresh mirrors', () => {
  it('carries a pushed tag from the hook through Jenkins to both servers\' mirrors, and the roster lists every daemon', async () => {
    const install = await cli(['hook', 'install', box.bare, '--repo', 'shop', '--bus-url', AMQP_URL]);
    expect(install.code).toBe(0);

    writeFileSync(join(box.work, 'app.txt'), 'v1.1.0\n');
    git(box.work, 'add', 'app.txt');
    const sha = commit(box.work, 'Release 1.1.0');
    git(box.work, 'tag', 'v1.1.0');
    await gitPush(box.work, { DEPLOYBUS_HOOK_TIMEOUT_MS: '20000' }, 'origin', 'main', 'v1.1.0');

    await waitFor('the hook\'s commit.pushed for main', () => ofType('commit.pushed').some((m) => m.payload.ref === 'refs/heads/main' && m.payload.after === sha), 30_000);
    const pushed = ofType('commit.pushed').find((m) => m.payload.ref === 'refs/heads/main');
    expect(pushed?.payload.commits.map((c) => c.subject)).toEqual(['Release 1.1.0']);
    expect(ofType('commit.pushed').some((m) => m.payload.ref === 'refs/tags/v1.1.0')).toBe(true);

    await waitFor('Jenkins to be asked for shop-ci', () => jenkins.triggered().length === 1, 30_000);
    expect(Object.fromEntries(jenkins.triggered()[0]?.parameters ?? [])).toMatchObject({ REPO: 'shop', REF: 'refs/heads/main', SHA: sha });
    await waitFor('build.started', () => ofType('build.started').some((m) => m.payload.sha === sha), 30_000);
    const started = ofType('build.started').find((m) => m.payload.sha === sha);
    jenkins.finishBuild('shop-ci', started?.payload.number ?? 0, 'SUCCESS');
    await waitFor('build.succeeded', () => ofType('build.succeeded').some((m) => m.payload.sha === sha), 30_000);
    expect(ofType('build.requested').some((m) => m.payload.sha === sha)).toBe(true);

    await waitFor('both servers to report the new tag', () => ['web1', 'web2'].every((host) => ofType('repo.updated').some((m) => m.payload.host === host && m.payload.tags.includes('v1.1.0'))), 30_000);
    for (const host of ['web1', 'web2']) {
      const mirror = join(box.dir, `mirrors-${host}`, 'shop.git');
      expect(execFileSync('git', ['tag', '--list'], { cwd: mirror, encoding: 'utf8' }).split('\n')).toContain('v1.1.0');
      expect(execFileSync('git', ['rev-parse', 'v1.1.0^{commit}'], { cwd: mirror, encoding: 'utf8' }).trim()).toBe(sha);
    }

    const query = observer.message('roster.query', {}, { expectReplies: true });
    const answer = await observer.request(query, { expect: ['ops1'], timeoutMs: 10_000 });
    const reply = answer.replies.get('ops1');
    expect(reply?.type).toBe('roster.reply');
    const up = reply?.type === 'roster.reply' ? reply.payload.entries.filter((e) => e.state === 'up').map((e) => `${e.service}@${e.host}`) : [];
    for (const daemon of ['keepalive@ops1', 'jenkins-trigger@ci1', 'repo-updater@web1', 'repo-updater@web2', 'git-watcher@git1']) expect(up).toContain(daemon);
  });

  it('refuses a forged GitHub webhook and publishes nothing', async () => {
    const url = String(logged('git-watcher', 'git-watcher listening')?.['url'] ?? '');
    const before = ofType('commit.pushed').length;
    const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: 'a'.repeat(40), repository: { name: 'shop' }, pusher: { name: 'mallory' }, commits: [] });
    const response = await fetch(`${url}/webhooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'forged-1', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      body,
    });
    expect(response.status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    expect(ofType('commit.pushed').length).toBe(before);
  });

  it('spools a push made while the broker is down and delivers it exactly once when it is back', async () => {
    const sha = commit(box.work, 'Made during the outage');
    await rabbitmqctl('stop_app');
    let push: { stderr: string };
    try {
      push = await gitPush(box.work, { DEPLOYBUS_HOOK_TIMEOUT_MS: '1500' }, 'origin', 'main');
    } finally {
      await rabbitmqctl('start_app');
    }
    expect(push.stderr).toMatch(/spooled/);
    await waitFor('the spooled event to arrive once the broker is back', () => ofType('commit.pushed').some((m) => m.payload.after === sha), 60_000);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(ofType('commit.pushed').filter((m) => m.payload.after === sha)).toHaveLength(1);
  });
});
