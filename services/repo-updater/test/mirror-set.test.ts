import { describe, expect, it } from 'vitest';
import { MirrorSet, type MirrorGit, type MirrorReport, type MirrorTrigger } from '../src/index.js';
import { ControlledGit, FlakyGit, MemoryLogger, settle } from './support/fakes.js';

const SHA = 'a'.repeat(40);
const SHA2 = 'b'.repeat(40);

function mirrorSet(git: MirrorGit, extra: { retries?: number; sleeps?: number[] } = {}) {
  const reports: Array<{ report: MirrorReport; triggers: readonly MirrorTrigger[] }> = [];
  const logger = new MemoryLogger();
  const set = new MirrorSet({
    repos: [
      { name: 'shop', url: '/srv/git/shop.git', path: '/m/shop.git' },
      { name: 'api', url: '/srv/git/api.git', path: '/m/api.git' },
    ],
    git,
    retries: extra.retries ?? 0,
    initialDelayMs: 100,
    logger,
    random: () => 0.5,
    sleep: async (ms) => {
      extra.sleeps?.push(ms);
    },
    report: async (report, triggers) => {
      reports.push({ report, triggers });
    },
  });
  return { set, reports, logger };
}

describe('MirrorSet: one fetch per repository at a time, bursts coalesced', () => {
  it('folds 10 events that arrive during a fetch into exactly one more fetch', async () => {
    const git = new ControlledGit();
    const { set, reports } = mirrorSet(git);
    const first = set.update('shop', { reason: 'build.succeeded', messageId: 'm0' });
    await settle();
    expect(git.fetchesOf('/m/shop.git')).toBe(1);
    const during = Array.from({ length: 10 }, (_, i) => set.update('shop', { reason: 'build.succeeded', messageId: `m${i + 1}` }));
    await settle();
    expect(git.fetchesOf('/m/shop.git')).toBe(1); // serialized: nothing starts while the first runs
    git.finish('/m/shop.git', 0, { head: SHA, tags: ['v1.0.0'] });
    await first;
    await settle();
    expect(git.fetchesOf('/m/shop.git')).toBe(2);
    git.finish('/m/shop.git', 1, { head: SHA2, tags: ['v1.0.0', 'v1.1.0'] });
    await Promise.all(during);
    await set.idle();
    expect(git.fetchesOf('/m/shop.git')).toBe(2);
    expect(reports).toHaveLength(2);
    expect(reports[0]?.triggers.map((t) => t.messageId)).toEqual(['m0']);
    expect(reports[1]?.triggers.map((t) => t.messageId)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    expect(reports[1]?.report).toEqual({ repo: 'shop', head: SHA2, tags: ['v1.0.0', 'v1.1.0'], attempts: 1 });
  });

  it('fetches different repositories in parallel', async () => {
    const git = new ControlledGit();
    const { set, reports } = mirrorSet(git);
    const shop = set.update('shop', { reason: 'build.succeeded' });
    const api = set.update('api', { reason: 'build.succeeded' });
    await settle();
    // Both fetches are running before either has finished.
    expect(git.fetchesOf('/m/shop.git')).toBe(1);
    expect(git.fetchesOf('/m/api.git')).toBe(1);
    git.finish('/m/api.git', 0, { head: SHA, tags: [] });
    await api;
    expect(reports.map((r) => r.report.repo)).toEqual(['api']);
    git.finish('/m/shop.git', 0, { head: SHA2, tags: [] });
    await shop;
    expect(reports.map((r) => r.report.repo)).toEqual(['api', 'shop']);
  });

  it('starts a fresh fetch for an event that arrives after the previous fetch ended', async () => {
    const git = new ControlledGit();
    const { set } = mirrorSet(git);
    const first = set.update('shop', { reason: 'build.succeeded' });
    await settle();
    git.finish('/m/shop.git', 0, { head: SHA, tags: [] });
    await first;
    const second = set.update('shop', { reason: 'build.succeeded' });
    await settle();
    git.finish('/m/shop.git', 1, { head: SHA, tags: [] });
    await second;
    expect(git.fetchesOf('/m/shop.git')).toBe(2);
  });

  it('ignores repositories it does not carry, without touching git', async () => {
    const git = new ControlledGit();
    const { set } = mirrorSet(git);
    expect(set.update('--upload-pack=touch /tmp/x', { reason: 'build.succeeded' })).toBeUndefined();
    expect(set.update('../../etc', { reason: 'build.succeeded' })).toBeUndefined();
    expect(git.fetches).toHaveLength(0);
    expect(git.ensured).toHaveLength(0);
  });
});

describe('MirrorSet: retries and reports', () => {
  it('retries a failed fetch with growing backoff, then reports success', async () => {
    const sleeps: number[] = [];
    const git = new FlakyGit(2, { head: SHA, tags: ['v1.1.0'] });
    const { set, reports } = mirrorSet(git, { retries: 3, sleeps });
    await set.update('shop', { reason: 'build.succeeded', messageId: 'm1' });
    expect(git.calls).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[1]).toBeGreaterThan(sleeps[0] ?? Infinity);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.report).toEqual({ repo: 'shop', head: SHA, tags: ['v1.1.0'], attempts: 3 });
  });

  it('reports the error and the mirror as it is after the last retry, and keeps serving', async () => {
    const git = new FlakyGit(100, { head: SHA, tags: [] });
    const { set, reports, logger } = mirrorSet(git, { retries: 2, sleeps: [] });
    await set.update('shop', { reason: 'build.succeeded' });
    expect(git.calls).toBe(3);
    expect(reports).toHaveLength(1);
    const report = reports[0]?.report;
    expect(report?.error).toMatch(/unable to access origin \(try 3\)/);
    expect(report?.tags).toEqual(['v0.9.0']);
    expect(report?.attempts).toBe(3);
    expect(logger.lines.filter((l) => l.level === 'warn' && l.msg.includes('fetch failed'))).toHaveLength(3);
    // The next event is handled as usual.
    await set.update('shop', { reason: 'build.succeeded' });
    expect(git.calls).toBe(6);
    expect(reports).toHaveLength(2);
  });

  it('leaves tags deploybus does not accept as refs out of the report', async () => {
    const git = new ControlledGit();
    const { set, reports } = mirrorSet(git);
    const done = set.update('shop', { reason: 'start' });
    await settle();
    git.finish('/m/shop.git', 0, { head: SHA, tags: ['v1.0.0', 'bad tag with spaces', 'v1.1.0'] });
    await done;
    expect(reports[0]?.report.tags).toEqual(['v1.0.0', 'v1.1.0']);
  });

  it('does not let a failing report stop the next fetch', async () => {
    const git = new FlakyGit(0, { head: SHA, tags: [] });
    const logger = new MemoryLogger();
    let calls = 0;
    const set = new MirrorSet({
      repos: [{ name: 'shop', url: '/srv/git/shop.git', path: '/m/shop.git' }],
      git,
      retries: 0,
      initialDelayMs: 0,
      logger,
      report: async () => {
        calls += 1;
        throw new Error('bus closed');
      },
    });
    await set.update('shop', { reason: 'start' });
    await set.update('shop', { reason: 'build.succeeded' });
    expect(calls).toBe(2);
    expect(logger.lines.some((l) => l.level === 'error' && l.msg === 'could not report a mirror update')).toBe(true);
  });

  it('cuts backoff short when closed, still reporting the failure', async () => {
    const git = new FlakyGit(100, { head: SHA, tags: [] });
    const logger = new MemoryLogger();
    const reports: MirrorReport[] = [];
    const set = new MirrorSet({
      repos: [{ name: 'shop', url: '/srv/git/shop.git', path: '/m/shop.git' }],
      git,
      retries: 5,
      initialDelayMs: 3_600_000,
      logger,
      report: async (report) => {
        reports.push(report);
      },
    });
    void set.update('shop', { reason: 'start' });
    await settle();
    await set.close();
    expect(git.calls).toBe(1);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.error).toBeDefined();
  });
});
