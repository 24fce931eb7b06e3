// Hostile repository names and refs from the bus never reach git, a path or a command.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectBus, memoryBroker, type Bus } from '@deploybus/bus';
import { EVENTS_EXCHANGE, type Message } from '@deploybus/protocol';
import { randomName, sleep, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { decideEvent, PackageRefreshQueue, repoUpdaterConfigSchema, startRepoUpdater, type RepoUpdater } from '../src/index.js';
import { MemoryLogger } from './support/fakes.js';
import { workspace, type Workspace } from './support/git-fixture.js';
import { RecordingGit } from './support/recording-git.js';

const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';

function hostileValues(marker: string): string[] {
  return [`--upload-pack=touch ${marker}`, `$(touch ${marker})`, `ext::sh -c touch% ${marker}`, '../../etc', `shop;touch ${marker}`, `-c core.sshCommand=touch ${marker}`];
}

/** A build.succeeded as an attacker would write it, bypassing the sender-side validation. */
function forgedBuild(repo: string, ref: string): Message {
  return {
    v: 1,
    id: `forged-${Math.random().toString(36).slice(2)}`,
    type: 'build.succeeded',
    time: new Date().toISOString(),
    source: { service: 'mallory', host: 'evil' },
    payload: { repo, ref, sha: SHA, job: 'x', number: 1, url: 'http://jenkins.example.com/job/x/1/' },
  } as unknown as Message;
}

describe('decideEvent refuses hostile values before anything uses them', () => {
  const config = repoUpdaterConfigSchema.parse({ mirrorsDir: '/srv/mirrors', repos: [{ name: 'shop', url: '/srv/git/shop.git' }] });
  const carried = new Map(config.repos.map((r) => [r.name, r]));
  const configured = new Set(carried.keys());
  const packages = new PackageRefreshQueue({ names: [], runCommand: () => Promise.reject(new Error('must not run')), report: async () => undefined, logger: new MemoryLogger() });

  it.each(hostileValues('/tmp/x'))('refuses the repository name %j', (repo) => {
    expect(decideEvent(forgedBuild(repo, 'refs/heads/main'), carried, configured, packages).kind).toBe('refuse');
  });

  it.each(hostileValues('/tmp/x'))('refuses the ref %j', (ref) => {
    expect(decideEvent(forgedBuild('shop', ref), carried, configured, packages)).toMatchObject({ kind: 'refuse', reason: expect.stringMatching(/^ref refused/) });
  });

  it('fetches a configured repository named by a valid message, and ignores an unknown one', () => {
    expect(decideEvent(forgedBuild('shop', 'refs/tags/v1.1.0'), carried, configured, packages)).toMatchObject({ kind: 'fetch', repo: 'shop' });
    expect(decideEvent(forgedBuild('other', 'refs/tags/v1.1.0'), carried, configured, packages)).toMatchObject({ kind: 'ignore', reason: 'repository not configured' });
  });
});

describe('hostile messages on the bus run nothing', () => {
  let ws: Workspace;
  let busUrl: string;
  let observer: Bus;
  let updater: RepoUpdater | undefined;
  let bus: Bus | undefined;

  beforeEach(async () => {
    ws = await workspace('repo-updater-hostile-');
    busUrl = `memory://${randomName('hostile')}`;
    observer = await connectBus(busUrl, { service: 'observer', host: 'observer' });
  });
  afterEach(async () => {
    await updater?.stop();
    await bus?.close();
    await observer.close();
    await ws.remove();
  });

  it('drops hostile repository names and refs: no git call with them, no marker file, no report', async () => {
    const marker = join(tmpdir(), randomName('deploybus-marker'));
    const logger = new MemoryLogger();
    const updates: Message[] = [];
    await observer.subscribe({ patterns: ['repo.updated.#'] }, (m) => void updates.push(m));
    const git = new RecordingGit();
    const config = repoUpdaterConfigSchema.parse({ host: 'web1', mirrorsDir: join(ws.root, 'mirrors'), repos: [{ name: 'shop', url: ws.origin }], fetch: { retries: 0 } });
    bus = await connectBus(busUrl, { service: 'repo-updater', host: 'web1', logger });
    updater = await startRepoUpdater({ config, bus, host: 'web1', logger, git });
    await waitFor('initial repo.updated', () => updates.length === 1);
    const callsAfterStart = git.calls.length;

    // Straight onto the broker, as a foreign client could publish them.
    const broker = memoryBroker(busUrl.slice('memory://'.length));
    for (const value of hostileValues(marker)) {
      for (const body of [forgedBuild(value, 'refs/heads/main'), forgedBuild('shop', value)]) {
        broker.publish(EVENTS_EXCHANGE, 'build.succeeded.shop', Buffer.from(JSON.stringify(body)), undefined);
      }
    }
    // A valid message afterwards proves the daemon is still serving, and that the hostile ones were handled first.
    const good = observer.message('build.succeeded', { repo: 'shop', ref: 'refs/heads/main', sha: await ws.head(), job: 'shop-ci', number: 2, url: 'http://jenkins.example.com/job/shop-ci/2/' });
    await observer.publish(good);
    await waitFor('repo.updated for the valid build', () => updates.some((m) => m.correlationId === good.id));
    await updater.idle();
    await sleep(50);

    expect(existsSync(marker)).toBe(false);
    // Each was logged and dropped: by the bus when it fails the message schema, else by repo-updater.
    const dropped = logger.lines.filter((l) => l.msg === 'unreadable message dead-lettered' || l.msg === 'message refused');
    expect(dropped).toHaveLength(hostileValues(marker).length * 2);
    const later = git.calls.slice(callsAfterStart);
    expect(later.length).toBeGreaterThan(0);
    for (const call of git.calls) {
      expect(call.slice(1).every((arg) => arg === ws.origin || arg === join(ws.root, 'mirrors', 'shop.git'))).toBe(true);
    }
    expect(updates.every((m) => m.type === 'repo.updated' && m.payload.repo === 'shop')).toBe(true);
    expect(updates).toHaveLength(2);
    expect(await readdir(join(ws.root, 'mirrors'))).toEqual(['shop.git']);
  });

  it('never passes a package name to the refresh command, however it looks', async () => {
    const marker = join(tmpdir(), randomName('deploybus-marker'));
    const argvFile = join(ws.root, 'argv.json');
    const refreshCommand = [process.execPath, '-e', 'require("fs").writeFileSync(process.argv[1], JSON.stringify(process.argv.slice(1)))', argvFile];
    const config = repoUpdaterConfigSchema.parse({ host: 'web1', mirrorsDir: join(ws.root, 'mirrors'), packages: { names: ['*'], refreshCommand, timeoutMs: 10_000 } });
    const logger = new MemoryLogger();
    const refreshed: Message[] = [];
    await observer.subscribe({ patterns: ['package.refreshed.#'] }, (m) => void refreshed.push(m));
    bus = await connectBus(busUrl, { service: 'repo-updater', host: 'web1', logger });
    updater = await startRepoUpdater({ config, bus, host: 'web1', logger });
    const hostile = `$(touch ${marker})`;
    await observer.publish(observer.message('package.updated', { package: hostile, version: `1.0;touch ${marker}`, repository: 'internal' }));
    await waitFor('package.refreshed', () => refreshed.length === 1);
    expect(refreshed[0]?.payload).toMatchObject({ host: 'web1', package: hostile, ok: true, exitCode: 0 });
    expect(existsSync(marker)).toBe(false);
    expect(JSON.parse(await readFile(argvFile, 'utf8'))).toEqual([argvFile]);
  });
});
