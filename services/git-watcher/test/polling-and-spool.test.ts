// Polling against a real git repository in a temp dir, the ref-change logic as a pure function, and
// the spool drain that sends what hooks left behind.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { createMessage, type Message } from '@deploybus/protocol';
import { GitClient } from '@deploybus/git';
import { DiskSpool } from '@deploybus/runtime';
import { diffRefs, RepoPoller, StateStore, ZERO_SHA, type PolledRepo } from '../src/index.js';
import { captureLogger, startWatcher, tempDir } from './watcher-support.js';
import { randomName, sleep, waitFor } from '../../../packages/bus/test/support/wait-for.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('diffRefs (pure)', () => {
  it('reports moved, new and deleted branches and tags; ignores HEAD, peeled tags and pull refs', () => {
    const before = new Map([
      ['HEAD', A],
      ['refs/heads/main', A],
      ['refs/heads/gone', B],
      ['refs/tags/v1', C],
      ['refs/pull/1/head', A],
    ]);
    const after = new Map([
      ['HEAD', B],
      ['refs/heads/main', B],
      ['refs/heads/new', C],
      ['refs/tags/v1', C],
      ['refs/tags/v1^{}', A],
      ['refs/pull/1/head', C],
    ]);
    expect(diffRefs(before, after)).toEqual([
      { ref: 'refs/heads/gone', before: B, after: ZERO_SHA },
      { ref: 'refs/heads/main', before: A, after: B },
      { ref: 'refs/heads/new', before: ZERO_SHA, after: C },
    ]);
  });

  it('reports nothing when nothing moved', () => {
    const refs = new Map([['refs/heads/main', A]]);
    expect(diffRefs(refs, new Map(refs))).toEqual([]);
  });
});

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' } }).trim();

describe('RepoPoller against a real repository', () => {
  let bus: Bus;
  let tmp: { dir: string; remove: () => void };
  let origin: string;
  let received: Message[];

  beforeEach(async () => {
    tmp = tempDir('poll');
    origin = join(tmp.dir, 'origin');
    git(tmp.dir, 'init', '--quiet', '--initial-branch=main', origin);
    writeFileSync(join(origin, 'f'), '1');
    git(origin, 'add', 'f');
    git(origin, 'commit', '--quiet', '-m', 'one');
    bus = await connectBus(`memory://${randomName('poll')}`, { service: 'git-watcher', host: 'test' });
    received = [];
    await bus.subscribe({ patterns: ['commit.pushed.#'] }, (m) => void received.push(m));
  });

  afterEach(async () => {
    await bus.close();
    tmp.remove();
  });

  const poller = async (repos: PolledRepo[]): Promise<{ poller: RepoPoller; store: StateStore }> => {
    const { logger } = captureLogger();
    const store = new StateStore(join(tmp.dir, 'state.json'), logger);
    await store.load();
    return { poller: new RepoPoller({ repos, git: new GitClient(), bus, store, logger }), store };
  };

  it('records on the first poll without publishing, then publishes only the refs that changed, and remembers across restarts', async () => {
    const repo = { name: 'shop', url: origin, pollIntervalMs: 60_000 };
    let { poller: p } = await poller([repo]);
    expect(await p.pollOnce(repo)).toEqual({ published: 0, firstPoll: true, failed: false });
    expect(await p.pollOnce(repo)).toEqual({ published: 0, firstPoll: false, failed: false });

    const before = git(origin, 'rev-parse', 'main');
    writeFileSync(join(origin, 'f'), '2');
    git(origin, 'commit', '--quiet', '-am', 'two');
    git(origin, 'branch', 'feature');
    const after = git(origin, 'rev-parse', 'main');
    expect((await p.pollOnce(repo)).published).toBe(2);
    await waitFor('two events', () => received.length === 2);
    const payloads = received.map((m) => (m.type === 'commit.pushed' ? m.payload : undefined));
    expect(payloads).toContainEqual({ repo: 'shop', ref: 'refs/heads/main', before, after, commits: [], pusher: 'unknown', origin: 'poll' });
    expect(payloads).toContainEqual(expect.objectContaining({ ref: 'refs/heads/feature', before: ZERO_SHA, after }));

    // A new poller on the same state file (a restart) publishes nothing already seen...
    ({ poller: p } = await poller([repo]));
    expect((await p.pollOnce(repo)).published).toBe(0);
    // ...and a deleted branch is published with after = zeros.
    git(origin, 'branch', '-D', 'feature');
    expect((await p.pollOnce(repo)).published).toBe(1);
    await waitFor('the deletion event', () => received.length === 3);
    expect(received[2]?.type === 'commit.pushed' && received[2].payload).toMatchObject({ ref: 'refs/heads/feature', after: ZERO_SHA });
    const state = JSON.parse(readFileSync(join(tmp.dir, 'state.json'), 'utf8')) as { polled: Record<string, Record<string, string>> };
    expect(state.polled['shop']).toEqual({ 'refs/heads/main': after });
  });

  it('writes each published change down at once, and a change published again carries the same message id', async () => {
    const repo = { name: 'shop', url: origin, pollIntervalMs: 60_000 };
    const { logger } = captureLogger();
    const stateFile = join(tmp.dir, 'state.json');
    const pollerWith = async (publishes: Bus['publish']): Promise<RepoPoller> => {
      const store = new StateStore(stateFile, logger);
      await store.load();
      const flaky = new Proxy(bus, { get: (target, prop, receiver) => (prop === 'publish' ? publishes : Reflect.get(target, prop, receiver)) as unknown });
      return new RepoPoller({ repos: [repo], git: new GitClient(), bus: flaky, store, logger });
    };
    expect((await (await pollerWith((m, o) => bus.publish(m, o))).pollOnce(repo)).firstPoll).toBe(true);
    const seenBefore = readFileSync(stateFile, 'utf8');
    git(origin, 'branch', 'feature-a');
    git(origin, 'branch', 'feature-b');

    // The broker goes away after the first publish: the first change is on disk, the second is not.
    let calls = 0;
    const result = await (await pollerWith((m, o) => (++calls === 1 ? bus.publish(m, o) : Promise.reject(new Error('broker away'))))).pollOnce(repo);
    expect(result).toEqual({ published: 1, firstPoll: false, failed: true });
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { polled: Record<string, Record<string, string>> };
    expect(Object.keys(state.polled['shop'] ?? {}).sort()).toEqual(['refs/heads/feature-a', 'refs/heads/main']);
    await waitFor('the first change', () => received.length === 1);

    // A crash before anything was written down (the state as it was) publishes the same change again, under the same id.
    writeFileSync(stateFile, seenBefore);
    expect((await (await pollerWith((m, o) => bus.publish(m, o))).pollOnce(repo)).published).toBe(2);
    await waitFor('the changes again', () => received.length === 3);
    const idsOf = (ref: string): string[] => received.filter((m) => m.type === 'commit.pushed' && m.payload.ref === ref).map((m) => m.id);
    expect(new Set(idsOf('refs/heads/feature-a')).size).toBe(1);
    expect(idsOf('refs/heads/feature-a')).toHaveLength(2);
  });

  it('a branch moved A->B, back to A and to B again is published three times under three ids', async () => {
    const repo = { name: 'shop', url: origin, pollIntervalMs: 60_000 };
    const { poller: p } = await poller([repo]);
    expect((await p.pollOnce(repo)).firstPoll).toBe(true);
    const a = git(origin, 'rev-parse', 'main');
    writeFileSync(join(origin, 'f'), '2');
    git(origin, 'commit', '--quiet', '-am', 'two');
    const b = git(origin, 'rev-parse', 'main');
    for (const target of [b, a, b]) {
      git(origin, 'reset', '--quiet', '--hard', target);
      expect((await p.pollOnce(repo)).published).toBe(1);
    }
    await waitFor('three events', () => received.length === 3);
    const moves = received.map((m) => (m.type === 'commit.pushed' ? `${m.payload.before.slice(0, 1)}${m.payload.after.slice(0, 1)}` : ''));
    expect(moves).toEqual([`${a[0]}${b[0]}`, `${b[0]}${a[0]}`, `${a[0]}${b[0]}`]);
    expect(new Set(received.map((m) => m.id)).size).toBe(3);
  });

  it('logs an ls-remote failure and keeps going', async () => {
    const repo = { name: 'gone', url: join(tmp.dir, 'does-not-exist'), pollIntervalMs: 60_000 };
    const { poller: p } = await poller([repo]);
    expect(await p.pollOnce(repo)).toEqual({ published: 0, firstPoll: false, failed: true });
  });
});

describe('spool drain by the daemon', () => {
  it('publishes what a hook spooled exactly once, at start, and leaves the dir empty', async () => {
    const tmp = tempDir('spool');
    const bus = await connectBus(`memory://${randomName('spool')}`, { service: 'git-watcher', host: 'test' });
    try {
      const received: Message[] = [];
      await bus.subscribe({ patterns: ['commit.pushed.#'] }, (m) => void received.push(m));
      const spoolDir = join(tmp.dir, 'spool');
      const spooled = createMessage('commit.pushed', { repo: 'shop', ref: 'refs/heads/main', before: ZERO_SHA, after: A, commits: [], pusher: 'ada', origin: 'post-receive' }, { source: { service: 'git-hook', host: 'git1' } });
      await new DiskSpool(spoolDir).put(spooled);
      const { watcher } = await startWatcher(bus, tmp.dir, { spoolDirs: [spoolDir], spoolDrainIntervalMs: 100 });
      try {
        await waitFor('the spooled event', () => received.length === 1);
        expect(received[0]?.id).toBe(spooled.id);
        await watcher.spools.drainNow(); // the drain that sent it may still be finishing: this joins it
        expect(await watcher.spools.drainNow()).toBe(0);
        await sleep(300); // a few more drain intervals
        expect(received).toHaveLength(1);
        expect(await new DiskSpool(spoolDir).pending()).toBe(0);
      } finally {
        await watcher.stop();
      }
    } finally {
      await bus.close();
      tmp.remove();
    }
  });
});
