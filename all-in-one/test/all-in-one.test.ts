// `npm start`'s system in one process on the in-memory bus: a push to the demo repository travels
// through git-watcher, the stand-in builder and both simulated servers' repo-updaters.
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

it('carries a push to the demo repository to both simulated servers\' mirrors', async () => {
  const lines: string[] = [];
  system = await startAllInOne({ busUrl: `memory://all-in-one-${Date.now()}`, dataDir, env: {}, webhookPort: 0, pollIntervalMs: 1_000, heartbeatIntervalMs: 200, print: (l) => lines.push(l) });
  expect([...system.daemons.keys()]).toEqual(['keepalive', 'repo-updater-web1', 'repo-updater-web2', 'git-watcher']);
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
  await until('both servers to mirror the new tag', () => ['web1', 'web2'].every((host) => lines.some((l) => l.includes(`repo.updated  demo on ${host}`) && l.includes('v1.3.0'))));
  for (const host of ['web1', 'web2']) {
    const mirror = join(dataDir, 'servers', host, 'mirrors', 'demo.git');
    expect(execFileSync('git', ['rev-parse', 'v1.3.0^{commit}'], { cwd: mirror, encoding: 'utf8' }).trim()).toBe(sha);
  }

  const query = system.tail.message('roster.query', {}, { expectReplies: true });
  const answer = await system.tail.request(query, { expect: ['localhost'], timeoutMs: 5_000 });
  const reply = answer.replies.get('localhost');
  const names = reply?.type === 'roster.reply' ? reply.payload.entries.filter((e) => e.state === 'up').map((e) => `${e.service}@${e.host}`).sort() : [];
  expect(names).toEqual(['git-watcher@localhost', 'keepalive@localhost', 'repo-updater@web1', 'repo-updater@web2']);
  expect(readFileSync(join(dataDir, 'logs', 'git-watcher.log'), 'utf8')).toContain('git-watcher started');
});
