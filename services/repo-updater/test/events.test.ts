// Which events make a server fetch or refresh, end to end on the memory bus with real git and processes.
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { repoUpdaterConfigSchema, startRepoUpdater, type RepoUpdater } from '../src/index.js';
import { MemoryLogger } from './support/fakes.js';
import { mirrorTags, workspace, type Workspace } from './support/git-fixture.js';
import { RecordingGit } from './support/recording-git.js';

let ws: Workspace;
let busUrl: string;
let observer: Bus;
let bus: Bus | undefined;
let updater: RepoUpdater | undefined;
let seen: Message[];

beforeEach(async () => {
  ws = await workspace('repo-updater-events-');
  busUrl = `memory://${randomName('events')}`;
  observer = await connectBus(busUrl, { service: 'observer', host: 'observer' });
  seen = [];
  await observer.subscribe({ patterns: ['repo.updated.#', 'package.refreshed.#'] }, (m) => void seen.push(m));
});
afterEach(async () => {
  await updater?.stop();
  await bus?.close();
  await observer.close();
  await ws.remove();
  updater = undefined;
  bus = undefined;
});

async function start(config: Record<string, unknown>, git?: RecordingGit): Promise<{ logger: MemoryLogger }> {
  const parsed = repoUpdaterConfigSchema.parse({ host: 'web1', mirrorsDir: join(ws.root, 'mirrors'), ...config });
  const logger = new MemoryLogger();
  bus = await connectBus(busUrl, { service: 'repo-updater', host: 'web1', logger });
  updater = await startRepoUpdater({ config: parsed, bus, host: 'web1', logger, ...(git ? { git } : {}) });
  return { logger };
}

function pushMessage(repo: string, after: string): Message {
  return observer.message('commit.pushed', { repo, ref: 'refs/heads/main', before: '0000000000000000000000000000000000000000', after, commits: [], pusher: 'ada', origin: 'post-receive' });
}

describe('fetch triggers', () => {
  it('fetches on commit.pushed for a repository configured so, and not for one fetching on builds only', async () => {
    const git = new RecordingGit();
    await start(
      {
        repos: [
          { name: 'shop', url: ws.origin, fetchOn: ['build.succeeded', 'commit.pushed'] },
          { name: 'api', url: ws.origin },
        ],
      },
      git,
    );
    await waitFor('initial reports', () => seen.length === 2);
    const head = await ws.commit('pushed change');
    await ws.tag('v2.0.0');
    const shopPush = pushMessage('shop', head);
    const apiPush = pushMessage('api', head);
    await observer.publish(apiPush);
    await observer.publish(shopPush);
    await waitFor('repo.updated for the shop push', () => seen.some((m) => m.correlationId === shopPush.id));
    await updater?.idle();
    const shopUpdate = seen.find((m) => m.correlationId === shopPush.id);
    expect(shopUpdate?.type === 'repo.updated' && shopUpdate.payload).toMatchObject({ repo: 'shop', head, tags: ['v1.0.0', 'v2.0.0'] });
    expect(seen.some((m) => m.correlationId === apiPush.id)).toBe(false);
    expect(await mirrorTags(join(ws.root, 'mirrors', 'api.git'))).toEqual(['v1.0.0']);
    expect(git.calls.filter((c) => c[0] === 'fetchMirror' && c[1]?.endsWith('api.git'))).toHaveLength(1); // the start-up one only
  });

  it('reports a fetch that keeps failing with error set and the mirror state, and recovers on the next event', async () => {
    await start({ repos: [{ name: 'shop', url: ws.origin }], fetch: { retries: 1, initialDelayMs: 10 } });
    await waitFor('initial report', () => seen.length === 1);
    // The origin goes away.
    await rename(ws.origin, `${ws.origin}-gone`);
    const build = observer.message('build.succeeded', { repo: 'shop', ref: 'refs/heads/main', sha: 'a'.repeat(40), job: 'ci', number: 3, url: 'http://jenkins.example.com/job/ci/3/' });
    await observer.publish(build);
    await waitFor('failed repo.updated', () => seen.some((m) => m.correlationId === build.id));
    const failed = seen.find((m) => m.correlationId === build.id);
    expect(failed?.type === 'repo.updated' && failed.payload.error).toMatch(/git fetch failed/);
    expect(failed?.type === 'repo.updated' && failed.payload.tags).toEqual(['v1.0.0']);
    expect(failed?.type === 'repo.updated' && failed.payload.built).toBeUndefined(); // nothing fetched: nothing to prepare
    await rename(`${ws.origin}-gone`, ws.origin);
    await ws.tag('v1.0.1');
    const again = observer.message('build.succeeded', { repo: 'shop', ref: 'refs/heads/main', sha: 'a'.repeat(40), job: 'ci', number: 4, url: 'http://jenkins.example.com/job/ci/4/' });
    await observer.publish(again);
    await waitFor('repo.updated after recovery', () => seen.some((m) => m.correlationId === again.id));
    const ok = seen.find((m) => m.correlationId === again.id);
    expect(ok?.type === 'repo.updated' && ok.payload).toMatchObject({ tags: ['v1.0.0', 'v1.0.1'] });
    expect(ok?.type === 'repo.updated' && ok.payload.error).toBeUndefined();
    expect(ok?.type === 'repo.updated' && ok.payload.built).toEqual([{ ref: 'refs/heads/main', sha: 'a'.repeat(40) }]);
  });

  it('names the green builds a fetch covered in built, and none for a push', async () => {
    await start({ repos: [{ name: 'shop', url: ws.origin, fetchOn: ['build.succeeded', 'commit.pushed'] }] });
    await waitFor('initial report', () => seen.length === 1);
    expect(seen[0]?.type === 'repo.updated' && seen[0].payload.built).toBeUndefined(); // the start-up fetch answers no build
    const sha = await ws.commit('built change');
    await ws.tag('v1.1.0');
    const build = observer.message('build.succeeded', { repo: 'shop', ref: 'refs/tags/v1.1.0', sha, job: 'ci', number: 7, url: 'http://jenkins.example.com/job/ci/7/' });
    await observer.publish(build);
    await waitFor('repo.updated for the build', () => seen.some((m) => m.correlationId === build.id));
    const updated = seen.find((m) => m.correlationId === build.id);
    expect(updated?.type === 'repo.updated' && updated.payload.built).toEqual([{ ref: 'refs/tags/v1.1.0', sha }]);
    const push = pushMessage('shop', sha);
    await observer.publish(push);
    await waitFor('repo.updated for the push', () => seen.some((m) => m.correlationId === push.id));
    const pushed = seen.find((m) => m.correlationId === push.id);
    expect(pushed?.type === 'repo.updated' && pushed.payload.built).toBeUndefined();
  });
});

describe('package refresh', () => {
  it('refreshes for a wanted package, not for others, and reports a failing command with its exit code', async () => {
    const refreshCommand = [process.execPath, '-e', 'console.error("E: Could not get lock"); process.exit(100)'];
    await start({ packages: { names: ['shop-*'], refreshCommand, timeoutMs: 10_000 } });
    const other = observer.message('package.updated', { package: 'postgresql-16', version: '16.4', repository: 'main' });
    const wanted = observer.message('package.updated', { package: 'shop-assets', version: '1.4.1-1', repository: 'internal' });
    await observer.publish(other);
    await observer.publish(wanted);
    await waitFor('package.refreshed', () => seen.some((m) => m.type === 'package.refreshed'));
    await updater?.idle();
    const reports = seen.filter((m) => m.type === 'package.refreshed');
    expect(reports).toHaveLength(1);
    expect(reports[0]?.correlationId).toBe(wanted.id);
    expect(reports[0]?.payload).toMatchObject({ host: 'web1', package: 'shop-assets', version: '1.4.1-1', ok: false, exitCode: 100, error: 'exited with status 100: E: Could not get lock' });
  });

  it('reports a refresh that timed out', async () => {
    await start({ packages: { names: ['nginx'], refreshCommand: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], timeoutMs: 200 } });
    await observer.publish(observer.message('package.updated', { package: 'nginx', version: '1.25', repository: 'main' }));
    await waitFor('package.refreshed', () => seen.some((m) => m.type === 'package.refreshed'));
    const report = seen.find((m) => m.type === 'package.refreshed');
    expect(report?.payload).toMatchObject({ ok: false, error: expect.stringMatching(/timed out after 200 ms/) });
    expect(report?.type === 'package.refreshed' && report.payload.exitCode).toBeUndefined();
  });
});
