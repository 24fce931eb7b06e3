// `npm start`'s system in one process on the in-memory bus: a push to the demo repository travels
// through git-watcher, the stand-in builder and the demo servers' repo-updaters; a deploy request
// becomes releases on the demo fleet.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startAllInOne, type AllInOne } from '../src/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'deploybus-all-in-one-'));
let system: AllInOne | undefined;
afterAll(async () => {
  await system?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const printed: string[] = [];
const lines = (): string[] => printed;

it('carries a push to the demo repository to both simulated servers\' mirrors', async () => {
  const lines = printed;
  system = await startAllInOne({ busUrl: `memory://all-in-one-${Date.now()}`, dataDir, env: {}, webhookPort: 0, webPort: 0, pollIntervalMs: 1_000, heartbeatIntervalMs: 200, demoStepDelaySeconds: 0, print: (l) => lines.push(l) });
  const hosts = ['stage1', 'web1', 'web2', 'web3'];
  expect([...system.daemons.keys()]).toEqual(['keepalive', 'conductor', ...hosts.flatMap((h) => [`repo-updater-${h}`, `deploy-agent-${h}`]), 'git-watcher', 'notifier', 'web']);
  expect(system.builder).toBe('stand-in');
  // git-watcher's first poll records the refs it finds without announcing them; push after it.
  const stateFile = join(dataDir, 'git-watcher', 'state.json');
  await until('git-watcher to remember the demo repository', () => existsSync(stateFile) && readFileSync(stateFile, 'utf8').includes('refs/heads/main'));

  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: system?.repo.work, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@e.st', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@e.st' } }).trim();
  git('commit', '--quiet', '--allow-empty', '-m', 'try deploybus');
  git('tag', 'v1.3.0');
  git('push', '--quiet', 'origin', 'main', '--tags');
  const sha = git('rev-parse', 'HEAD');

  await until('the commit event', () => lines.some((l) => l.includes('commit.pushed') && l.includes(`refs/heads/main ${sha.slice(0, 10)}`)));
  await until('the stand-in build', () => lines.some((l) => l.includes('build.succeeded') && l.includes(sha.slice(0, 10))));
  await until('every server to mirror the new tag', () => hosts.every((host) => lines.some((l) => l.includes(`repo.updated  demo on ${host}`) && l.includes('v1.3.0'))));
  for (const host of hosts) {
    const mirror = join(dataDir, 'servers', host, 'mirrors', 'demo.git');
    expect(execFileSync('git', ['rev-parse', 'v1.3.0^{commit}'], { cwd: mirror, encoding: 'utf8' }).trim()).toBe(sha);
  }

  const query = system.tail.message('roster.query', {}, { expectReplies: true });
  const answer = await system.tail.request(query, { expect: ['localhost'], timeoutMs: 5_000 });
  const reply = answer.replies.get('localhost');
  const names = reply?.type === 'roster.reply' ? reply.payload.entries.filter((e) => e.state === 'up').map((e) => `${e.service}@${e.host}`).sort() : [];
  expect(names).toEqual(['conductor@localhost', ...hosts.map((h) => `deploy-agent@${h}`), 'git-watcher@localhost', 'keepalive@localhost', 'notifier@localhost', ...hosts.map((h) => `repo-updater@${h}`), 'web@localhost']);
  expect(readFileSync(join(dataDir, 'logs', 'git-watcher.log'), 'utf8')).toContain('git-watcher started');
});

it('deploys a demo tag to the production servers, in batches, from the demo fleet\'s own mirrors', async () => {
  if (system === undefined) throw new Error('the system did not start in the first test');
  const { tail } = system;
  const request = tail.message('deploy.requested', { app: 'demo', env: 'production', ref: 'v1.1.0', requestedBy: 'ada', rollout: { batchSize: 2 } }, { expectReplies: true });
  const replies: string[] = [];
  const outcome = new Promise<string>((resolve) => {
    void tail.subscribe({ patterns: ['deploy.succeeded.demo.production', 'deploy.failed.demo.production', tail.replyAddress] }, (m) => {
      replies.push(m.type);
      if (m.type === 'deploy.succeeded' || m.type === 'deploy.failed') resolve(m.type);
    });
  });
  await tail.publish(request);
  expect(await outcome).toBe('deploy.succeeded');
  expect(replies[0]).toBe('deploy.queued');
  for (const host of ['web1', 'web2', 'web3']) {
    expect(readFileSync(join(dataDir, 'servers', host, 'apps', 'demo', 'current', 'VERSION'), 'utf8')).toBe('1.1.0\n');
  }
  expect(existsSync(join(dataDir, 'servers', 'stage1', 'apps', 'demo', 'current'))).toBe(false);
  await until('a batch line on the console', () => lines().some((l) => l.includes('deploy.batch')));
});
