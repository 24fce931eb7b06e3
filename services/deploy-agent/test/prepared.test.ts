// Releases prepared ahead of a deploy: repo-updater's repo.updated names a green build, the agent
// exports its tree at once, and a deploy of that commit moves the tree into place. Real git, real
// repo-updater, in-memory bus.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import type { PayloadInputOf } from '@deploybus/protocol';
import { repoUpdaterConfigSchema, startRepoUpdater, type RepoUpdater } from '../../repo-updater/src/index.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { agentFixture, deployPayload, git, type AgentFixture, type AppOverrides } from './support/agent-fixture.js';

let fixture: AgentFixture | undefined;
let updater: { bus: Bus; daemon: RepoUpdater } | undefined;
afterEach(async () => {
  await updater?.daemon.stop();
  await updater?.bus.close();
  updater = undefined;
  await fixture?.close();
  fixture = undefined;
});

async function start(app: AppOverrides = {}, busUrl?: string): Promise<AgentFixture> {
  fixture = await agentFixture({ app, ...(busUrl === undefined ? {} : { busUrl }) });
  return fixture;
}

const mirrorOf = (f: AgentFixture): string => join(f.config.mirrorsDir, 'shop.git');
const preparedDir = (f: AgentFixture): string => join(f.deployRoot, 'prepared');
const preparedTrees = async (f: AgentFixture): Promise<string[]> => (existsSync(preparedDir(f)) ? (await readdir(preparedDir(f))).sort() : []);

/** What repo-updater does after a green build: fetch into the mirror, then say so. */
async function fetchAndAnnounce(f: AgentFixture, built: readonly { ref: string; sha: string }[], extra: Partial<PayloadInputOf<'repo.updated'>> = {}): Promise<void> {
  if (existsSync(mirrorOf(f))) await git(mirrorOf(f), 'fetch', '--quiet', '--prune', '--tags', 'origin');
  else await git(f.root, 'clone', '--quiet', '--mirror', f.origin.path, mirrorOf(f));
  await f.client.publish(f.client.message('repo.updated', { repo: 'shop', host: f.host, tags: [], built: [...built], ...extra }));
}

describe('prepared releases', () => {
  it('prepares the tree of a green build the mirror fetched; a deploy of that commit moves it into place', async () => {
    const f = await start({ hooks: { preDeploy: [process.execPath, '-e', 'console.log(require("fs").readFileSync("app.txt","utf8").trim())'] } });
    const sha = await f.origin.release('v1.0.0', 'one');
    await fetchAndAnnounce(f, [{ ref: 'refs/tags/v1.0.0', sha }]);
    await waitFor('the tree of v1.0.0 prepared', async () => (await preparedTrees(f)).includes(sha));
    await f.agent.idle();
    expect(await readFile(join(preparedDir(f), sha, 'app.txt'), 'utf8')).toBe('one\n');
    const inode = (await stat(join(preparedDir(f), sha))).ino;

    const command = f.command({ ...deployPayload('v1.0.0'), sha });
    const reply = await f.run(command);
    expect(reply.payload.status).toBe('succeeded');
    const release = join(f.deployRoot, 'releases', reply.payload.release!);
    expect((await stat(release)).ino).toBe(inode); // the same directory, renamed: nothing was checked out again
    expect(await preparedTrees(f)).toEqual([]); // a tree is used once
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('one\n');
    expect(reply.payload.steps?.map((s) => s.name)).toEqual(['checkout', 'pre-deploy', 'switch']);
    const lines = f.tasks.filter((t) => t.correlationId === command.id).flatMap((t) => (t.type === 'task.log' ? t.payload.lines.map((l) => `${t.payload.step}: ${l.text}`) : []));
    expect(lines).toContain(`checkout: deploy-agent: the tree of ${sha.slice(0, 12)} was prepared when the mirror fetched it; moved into place`);
    expect(lines).toContain('pre-deploy: one'); // hooks still run in the release at deploy time
    const state = await f.run(f.command({ action: 'state' }));
    expect(state.payload.result).toMatchObject({ apps: [{ current: reply.payload.release, ref: 'v1.0.0', sha }] });
  });

  it('with a real repo-updater: build.succeeded -> fetch -> repo.updated -> prepared tree', async () => {
    const busUrl = `memory://${randomName('prepared')}`;
    const f = await start({}, busUrl);
    const sha = await f.origin.release('v2.0.0', 'two');
    const config = repoUpdaterConfigSchema.parse({ host: f.host, bus: { url: 'memory://unused' }, mirrorsDir: f.config.mirrorsDir, allowedProtocols: ['file'], repos: [{ name: 'shop', url: f.origin.path }] });
    const bus = await connectBus(busUrl, { service: 'repo-updater', host: f.host });
    updater = { bus, daemon: await startRepoUpdater({ config, bus, host: f.host, logger: f.logger }) };
    await updater.daemon.idle(); // the start-up clone names no build: nothing is prepared for it
    await f.agent.idle();
    expect(await preparedTrees(f)).toEqual([]);
    await f.client.publish(f.client.message('build.succeeded', { repo: 'shop', ref: 'refs/tags/v2.0.0', sha, job: 'ci', number: 9, url: 'http://jenkins.example.com/job/ci/9/' }));
    await waitFor('the tree of v2.0.0 prepared', async () => (await preparedTrees(f)).includes(sha));
    expect(await readFile(join(preparedDir(f), sha, 'app.txt'), 'utf8')).toBe('two\n');
  });

  it('deploys the commit the command names even when the ref has moved since the conductor resolved it', async () => {
    const f = await start();
    const first = await f.origin.release('v1.0.0', 'one');
    await f.origin.release('v1.1.0', 'two'); // main moves on
    const reply = await f.run(f.command({ ...deployPayload('main'), sha: first }));
    expect(reply.payload.status).toBe('succeeded');
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('one\n');
    const state = await f.run(f.command({ action: 'state' }));
    expect(state.payload.result).toMatchObject({ apps: [{ ref: 'main', sha: first }] });
  });

  it('refuses a commit that is in no mirror even after a fetch, with nothing made', async () => {
    const f = await start();
    await f.origin.release('v1.0.0', 'one');
    const missing = 'e'.repeat(40);
    const reply = await f.run(f.command({ ...deployPayload('v1.0.0'), sha: missing }));
    expect(reply.payload.status).toBe('refused');
    expect(reply.payload.error).toBe(`UNKNOWN_REF: commit ${missing} (ref v1.0.0) does not exist in the mirror of shop, even after a fetch`);
    expect(existsSync(join(f.deployRoot, 'releases'))).toBe(false);
  });

  it('ignores announcements for another host, failed fetches and pushes; an unknown commit is logged and prepares nothing', async () => {
    const f = await start();
    const sha = await f.origin.release('v1.0.0', 'one');
    await fetchAndAnnounce(f, [{ ref: 'refs/tags/v1.0.0', sha }], { host: 'someone-else' });
    await fetchAndAnnounce(f, [{ ref: 'refs/tags/v1.0.0', sha }], { error: 'git fetch failed' });
    await fetchAndAnnounce(f, []);
    const unknown = 'd'.repeat(40);
    await fetchAndAnnounce(f, [{ ref: 'refs/tags/v9', sha: unknown }]);
    await waitFor('the unknown commit logged', () => f.logger.lines.some((e) => e.msg.startsWith('release not prepared') && e.fields['sha'] === unknown));
    await f.agent.idle();
    expect(await preparedTrees(f)).toEqual([]);
    // The deploy checks the tree out itself.
    const reply = await f.run(f.command({ ...deployPayload('v1.0.0'), sha }));
    expect(reply.payload.status).toBe('succeeded');
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('one\n');
  });

  it('keeps at most preparedReleases trees, the newest; skips the commit already running', async () => {
    const f = await start({ preparedReleases: 2 });
    const shas: string[] = [];
    for (const tag of ['v1', 'v2', 'v3']) {
      const sha = await f.origin.release(tag, tag);
      shas.push(sha);
      await fetchAndAnnounce(f, [{ ref: `refs/tags/${tag}`, sha }]);
      await waitFor(`the tree of ${tag}`, async () => (await preparedTrees(f)).includes(sha));
    }
    await f.agent.idle();
    expect(await preparedTrees(f)).toEqual([shas[1], shas[2]].sort());
    // Heartbeats name them, newest first, so a UI can say where a deploy needs no checkout.
    await waitFor('the heartbeat naming both trees', () => f.agent.apps()[0]?.prepared?.length === 2);
    expect(f.agent.apps()[0]?.prepared).toEqual([shas[2], shas[1]]);
    const reply = await f.run(f.command({ ...deployPayload('v3'), sha: shas[2]! }));
    expect(reply.payload.status).toBe('succeeded');
    await waitFor('the heartbeat without the tree that was used', () => f.agent.apps()[0]?.prepared?.length === 1);
    expect(f.agent.apps()[0]).toMatchObject({ release: reply.payload.release, ref: 'v3', prepared: [shas[1]] });
    await fetchAndAnnounce(f, [{ ref: 'refs/tags/v3', sha: shas[2]! }]); // announced again: it runs already
    await new Promise((resolve) => setTimeout(resolve, 100));
    await f.agent.idle();
    expect(await preparedTrees(f)).toEqual([shas[1]]);
  });

  it('removes half-built leftovers at start, and every tree of an app set to preparedReleases 0', async () => {
    const f = await start({ preparedReleases: 0 });
    const sha = await f.origin.release('v1.0.0', 'one');
    await mkdir(join(preparedDir(f), `.building-${sha}-abc`), { recursive: true });
    await mkdir(join(preparedDir(f), sha));
    await f.restartAgent();
    expect(existsSync(preparedDir(f))).toBe(false);
    await fetchAndAnnounce(f, [{ ref: 'refs/tags/v1.0.0', sha }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await f.agent.idle();
    expect(existsSync(preparedDir(f))).toBe(false);
  });
});
