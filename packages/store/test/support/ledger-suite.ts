// One suite for every engine: each engine's test file opens a ledger its own way and hands it here, so
// SQLite and PostgreSQL are held to exactly the same behaviour.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger, LedgerEventInput } from '../../src/index.js';

export interface LedgerFixture {
  readonly ledger: Ledger;
  /** Opens a second, independent ledger on the same database (a second conductor); absent for ':memory:'. */
  readonly openAnother?: (() => Promise<Ledger>) | undefined;
  readonly cleanup: () => Promise<void>;
}

const rand = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;
const t = (seconds: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString();

/** `shared`: the fixture can open a second ledger on the same database (not so for ':memory:'). */
export function ledgerSuite(name: string, open: () => Promise<LedgerFixture>, shared: boolean): void {
  describe(`ledger on ${name}`, () => {
    let fixture: LedgerFixture;
    let ledger: Ledger;
    beforeAll(async () => {
      fixture = await open();
      ledger = fixture.ledger;
      await ledger.migrate();
    });
    afterAll(async () => {
      await fixture?.cleanup();
    });

    it('migrates a current ledger again without applying anything', async () => {
      expect(await ledger.migrate()).toEqual([]);
      expect(await ledger.migrate()).toEqual([]);
    });

    it('stores an event once however often it is appended, and replays after a cursor', async () => {
      const app = rand('app');
      const start = await ledger.eventsAfter(0, 10_000);
      const cursor = start.cursor;
      const event = (i: number): LedgerEventInput => ({
        id: `${app}-m${i}`,
        type: 'deploy.started',
        deploymentId: `${app}-d1`,
        app,
        env: 'prod',
        time: t(i),
        payload: { n: i, hosts: ['web1'] },
      });
      expect(await ledger.appendEvent(event(1))).toBe(true);
      expect(await ledger.appendEvent(event(1))).toBe(false);
      expect(await ledger.appendEvents([event(1), event(2), event(3)])).toBe(2);
      const page = await ledger.eventsAfter(cursor, 2);
      expect(page.events.map((e) => e.id)).toEqual([`${app}-m1`, `${app}-m2`]);
      expect(page.events[0]).toMatchObject({ type: 'deploy.started', deploymentId: `${app}-d1`, app, env: 'prod', time: t(1), payload: { n: 1, hosts: ['web1'] } });
      const rest = await ledger.eventsAfter(page.cursor, 10);
      expect(rest.events.map((e) => e.id)).toEqual([`${app}-m3`]);
      const none = await ledger.eventsAfter(rest.cursor, 10);
      expect(none).toEqual({ events: [], cursor: rest.cursor });
    });

    it('appends made at once share a transaction and keep their order; a repeated id in the burst is stored once; a bad time fails alone', async () => {
      const app = rand('app');
      const cursor = (await ledger.eventsAfter(0, 10_000)).cursor;
      const event = (i: number): LedgerEventInput => ({ id: `${app}-b${i}`, type: 'task.started', app, env: 'prod', time: t(i), payload: { i } });
      const bad = expect(ledger.appendEvent({ ...event(99), time: 'not a time' })).rejects.toThrow(/time/);
      const results = await Promise.all([1, 2, 3, 2, 4].map((i) => ledger.appendEvent(event(i))));
      await bad;
      expect(results).toEqual([true, true, true, false, true]);
      const stored = (await ledger.eventsAfter(cursor, 100, { app })).events;
      expect(stored.map((e) => e.id)).toEqual([1, 2, 3, 4].map((i) => `${app}-b${i}`));
      expect(stored.map((e) => e.seq)).toEqual([...stored.map((e) => e.seq)].sort((a, b) => a - b));
    });

    it('finds the seq of a stored event by its id, so a replay can continue after it', async () => {
      const app = rand('app');
      const cursor = (await ledger.eventsAfter(0, 10_000)).cursor;
      await ledger.appendEvents([1, 2, 3].map((i) => ({ id: `${app}-m${i}`, type: 'deploy.started', app, time: t(i), payload: {} })));
      const stored = (await ledger.eventsAfter(cursor, 100, { app })).events;
      const second = await ledger.seqOfEvent(`${app}-m2`);
      expect(second).toBe(stored[1]?.seq);
      expect((await ledger.eventsAfter(second ?? 0, 100, { app })).events.map((e) => e.id)).toEqual([`${app}-m3`]);
      expect(await ledger.seqOfEvent(`${app}-unknown`)).toBeUndefined();
      expect(await ledger.seqOfEvent('')).toBeUndefined();
      expect(await ledger.seqOfEvent("x' or '1'='1")).toBeUndefined();
    });

    it('replays only the events a filter names: deployment, app, env, exact types and prefix patterns', async () => {
      const app = rand('app');
      const cursor = (await ledger.eventsAfter(0, 10_000)).cursor;
      const rows: LedgerEventInput[] = [
        { id: `${app}-a`, type: 'deploy.started', deploymentId: `${app}-d1`, app, env: 'prod', time: t(1), payload: {} },
        { id: `${app}-b`, type: 'task.started', deploymentId: `${app}-d1`, app, env: 'prod', time: t(2), payload: {} },
        { id: `${app}-c`, type: 'deploy.started', deploymentId: `${app}-d2`, app, env: 'staging', time: t(3), payload: {} },
        { id: `${app}-d`, type: 'deploy.succeeded', deploymentId: `${app}-d1`, app, env: 'prod', time: t(4), payload: {} },
      ];
      await ledger.appendEvents(rows);
      const ids = async (filter: Parameters<Ledger['eventsAfter']>[2]): Promise<string[]> => (await ledger.eventsAfter(cursor, 100, filter)).events.map((e) => e.id.slice(app.length + 1));
      expect(await ids({ deploymentId: `${app}-d1` })).toEqual(['a', 'b', 'd']);
      expect(await ids({ app, env: 'staging' })).toEqual(['c']);
      expect(await ids({ app, types: ['deploy.*'] })).toEqual(['a', 'c', 'd']);
      expect(await ids({ app, types: ['task.started', 'deploy.succeeded'] })).toEqual(['b', 'd']);
      expect(await ids({ app, types: ['*'] })).toEqual(['a', 'b', 'c', 'd']);
      const page = await ledger.eventsAfter(cursor, 1, { app, types: ['deploy.succeeded'] });
      expect(page.cursor).toBe(page.events[0]?.seq);
      await expect(ledger.eventsAfter(cursor, 10, { types: ["deploy.%' or 1=1 --"] })).rejects.toThrow(/types\[0\]: .* is not an event type/);
    });

    it('appends 2,000 events in one call and prunes by time', async () => {
      const app = rand('bulk');
      const before = (await ledger.eventsAfter(0, 10_000)).cursor;
      const events = Array.from({ length: 2000 }, (_, i) => ({ id: `${app}-${i}`, type: 'task.log', app, time: new Date(Date.UTC(1990, 0, 1) + i * 1000), payload: { i } }));
      expect(await ledger.appendEvents(events)).toBe(2000);
      const page = await ledger.eventsAfter(before, 10_000);
      expect(page.events.filter((e) => e.app === app)).toHaveLength(2000);
      // Everything before 1990-01-01T00:16:40Z (the first 1000) goes; nothing later does.
      expect(await ledger.pruneEventsBefore(new Date(Date.UTC(1990, 0, 1) + 1000 * 1000))).toBe(1000);
      const left = (await ledger.eventsAfter(before, 10_000)).events.filter((e) => e.app === app);
      expect(left).toHaveLength(1000);
      expect(left[0]?.id).toBe(`${app}-1000`);
    });

    it('walks a deployment through its life and refuses transitions out of a final state', async () => {
      const app = rand('app');
      const id = rand('dep');
      expect(await ledger.createDeployment({ id, app, env: 'prod', ref: 'v1.0.0', requestedBy: 'ada', createdAt: t(1), options: { batch: 2 } })).toBe(true);
      expect(await ledger.createDeployment({ id, app, env: 'prod', ref: 'v9', requestedBy: 'eve', createdAt: t(2) })).toBe(false);
      expect(await ledger.finish(id, { state: 'succeeded', at: t(2) })).toBe(false);
      expect(await ledger.markRunning(id, t(3))).toBe(true);
      expect(await ledger.markRunning(id, t(4))).toBe(false);
      expect(await ledger.activeDeployment(app, 'prod')).toMatchObject({ id, state: 'running', startedAt: t(3) });
      // A cancel meant for the queued deployment does not end the rollout that started meanwhile.
      expect(await ledger.finish(id, { state: 'cancelled', at: t(4), onlyFrom: ['queued'] })).toBe(false);
      expect((await ledger.deployment(id))?.state).toBe('running');
      await ledger.recordHostResult(id, { host: 'web1', outcome: 'succeeded', release: 'r1', durationMs: 1200, at: t(5) });
      await ledger.recordHostResult(id, { host: 'web2', outcome: 'failed', error: 'health check', at: t(6) });
      await ledger.recordHostResult(id, { host: 'web2', outcome: 'succeeded', release: 'r1', durationMs: 900, at: t(7) });
      expect(await ledger.finish(id, { state: 'succeeded', at: t(8), reason: 'all hosts' })).toBe(true);
      expect(await ledger.finish(id, { state: 'failed', at: t(9) })).toBe(false);
      expect(await ledger.markRunning(id, t(10))).toBe(false);
      expect(await ledger.activeDeployment(app, 'prod')).toBeUndefined();
      const stored = await ledger.deployment(id);
      expect(stored).toMatchObject({ id, app, env: 'prod', ref: 'v1.0.0', requestedBy: 'ada', state: 'succeeded', createdAt: t(1), startedAt: t(3), finishedAt: t(8), reason: 'all hosts', options: { batch: 2 } });
      expect(stored?.sha).toBeUndefined();
      expect(stored?.hosts).toEqual([
        { host: 'web1', outcome: 'succeeded', release: 'r1', durationMs: 1200, error: undefined, at: t(5) },
        { host: 'web2', outcome: 'succeeded', release: 'r1', durationMs: 900, error: undefined, at: t(7) },
      ]);
      expect(await ledger.deployment(rand('missing'))).toBeUndefined();
    });

    it('queues in order, runs one at a time per app and environment, and lists what is unfinished', async () => {
      const app = rand('app');
      const ids = [rand('q'), rand('q'), rand('q')];
      for (const [i, id] of ids.entries()) await ledger.createDeployment({ id, app, env: 'prod', ref: `v${i}`, requestedBy: 'ada', createdAt: t(10) });
      await ledger.createDeployment({ id: rand('other'), app, env: 'staging', ref: 'v0', requestedBy: 'ada', createdAt: t(10) });
      expect((await ledger.queue(app, 'prod')).map((d) => d.id)).toEqual(ids);
      expect(await ledger.markRunning(ids[0] ?? '', t(11))).toBe(true);
      expect(await ledger.markRunning(ids[1] ?? '', t(11))).toBe(false);
      expect((await ledger.queue(app, 'prod')).map((d) => d.id)).toEqual(ids.slice(1));
      expect(await ledger.finish(ids[1] ?? '', { state: 'superseded', at: t(12), reason: `superseded by ${ids[2] ?? ''}` })).toBe(true);
      expect(await ledger.finish(ids[0] ?? '', { state: 'superseded', at: t(12) })).toBe(false);
      const unfinished = (await ledger.unfinished()).filter((d) => d.app === app);
      expect(unfinished.map((d) => [d.id, d.state])).toEqual([
        [ids[0], 'running'],
        [ids[2], 'queued'],
        [expect.any(String), 'queued'],
      ]);
      expect(await ledger.finish(ids[0] ?? '', { state: 'failed', at: t(13), reason: 'conductor restarted' })).toBe(true);
      expect(await ledger.markRunning(ids[2] ?? '', t(14))).toBe(true);
    });

    it('filters and pages history newest first', async () => {
      const app = rand('app');
      const other = rand('app');
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const id = rand('h');
        ids.push(id);
        await ledger.createDeployment({ id, app, env: i % 2 === 0 ? 'prod' : 'staging', ref: `v${i}`, requestedBy: 'ada', createdAt: t(i) });
      }
      await ledger.createDeployment({ id: rand('h'), app: other, env: 'prod', ref: 'v0', requestedBy: 'bob', createdAt: t(1) });
      expect((await ledger.history({ app, limit: 10 })).map((d) => d.id)).toEqual([...ids].reverse());
      expect((await ledger.history({ app, env: 'prod', limit: 10 })).map((d) => d.ref)).toEqual(['v4', 'v2', 'v0']);
      const first = await ledger.history({ app, limit: 2 });
      expect(first.map((d) => d.ref)).toEqual(['v4', 'v3']);
      expect((await ledger.history({ app, limit: 2, offset: 2 })).map((d) => d.id)).toEqual([...ids].reverse().slice(2, 4));
      expect(await ledger.history({ app, limit: 2, offset: 999_999 })).toEqual([]);
      const next = await ledger.history({ app, limit: 2, before: first.at(-1)?.id });
      expect(next.map((d) => d.ref)).toEqual(['v2', 'v1']);
      const all = await ledger.history({ limit: 1000 });
      expect(all.some((d) => d.app === other)).toBe(true);
      await expect(ledger.history({ limit: -1 })).rejects.toThrow(/limit/);
    });

    it('keeps log lines in order, skips redelivered lines, and pages and tails them', async () => {
      const id = rand('dep');
      const lines = (host: string, from: number, count: number, second: number) =>
        Array.from({ length: count }, (_, i) => ({ seq: from + i, line: `${host} line ${from + i}`, at: t(second + from + i) }));
      expect(await ledger.appendLogs(id, 'web1', lines('web1', 0, 5, 0))).toBe(5);
      expect(await ledger.appendLogs(id, 'web1', lines('web1', 3, 4, 0))).toBe(2);
      expect(await ledger.appendLogs(id, 'web2', [{ seq: 0, line: 'oops', at: t(100), stream: 'stderr' }])).toBe(1);
      const web1 = await ledger.logs(id, { host: 'web1' });
      expect(web1.map((l) => l.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(web1[0]).toEqual({ host: 'web1', seq: 0, stream: 'stdout', line: 'web1 line 0', at: t(0) });
      expect((await ledger.logs(id, { host: 'web1', offset: 2, limit: 3 })).map((l) => l.line)).toEqual(['web1 line 2', 'web1 line 3', 'web1 line 4']);
      const everything = await ledger.logs(id);
      expect(everything).toHaveLength(8);
      expect(everything.at(-1)).toMatchObject({ host: 'web2', stream: 'stderr', line: 'oops' });
      expect((await ledger.tail(id, 3)).map((l) => l.line)).toEqual(['web1 line 5', 'web1 line 6', 'oops']);
      expect((await ledger.tail(id, 2, 'web1')).map((l) => l.line)).toEqual(['web1 line 5', 'web1 line 6']);
      expect(await ledger.tail(rand('none'), 5)).toEqual([]);
    });

    it('keeps the newest release per host and flags drift in the matrix', async () => {
      const app = rand('app');
      const base = { app, env: 'prod' };
      await ledger.recordRelease({ ...base, host: 'web1', release: 'r1', ref: 'v1', sha: 'a'.repeat(40), at: t(1) });
      await ledger.recordRelease({ ...base, host: 'web2', release: 'r1', ref: 'v1', at: t(1) });
      await ledger.recordRelease({ ...base, host: 'web3', release: 'r0', ref: 'v0', at: t(1) });
      await ledger.recordRelease({ app, env: 'staging', host: 'stage1', release: 'r2', ref: 'v2', at: t(1) });
      // A late heartbeat from before the last deploy does not win over it.
      expect(await ledger.recordRelease({ ...base, host: 'web1', release: 'rOld', ref: 'v0', at: t(0) })).toBe(false);

      let matrix = await ledger.matrix(app, 'prod');
      expect(matrix.commonRef).toBe('v1');
      expect(matrix.lastDeployedRef).toBeUndefined();
      expect(matrix.hosts.map((h) => [h.host, h.ref, h.drift])).toEqual([
        ['web1', 'v1', false],
        ['web2', 'v1', false],
        ['web3', 'v0', true],
      ]);
      expect(matrix.hosts[0]?.sha).toBe('a'.repeat(40));
      // A heartbeat of the same release (no commit in it) keeps the commit; one of another release drops it.
      expect(await ledger.recordRelease({ ...base, host: 'web1', release: 'r1', ref: 'v1', at: t(1) })).toBe(true);
      expect((await ledger.matrix(app, 'prod')).hosts[0]?.sha).toBe('a'.repeat(40));
      await ledger.recordRelease({ ...base, host: 'web2', release: 'r1', ref: 'v1', sha: 'b'.repeat(40), at: t(1) });
      await ledger.recordRelease({ ...base, host: 'web2', release: 'r1b', ref: 'v1', at: t(1) });
      expect((await ledger.matrix(app, 'prod')).hosts[1]?.sha).toBeUndefined();

      // After v0 is deployed successfully (web3 only so far), the last deployed ref is the yardstick.
      const id = rand('dep');
      await ledger.createDeployment({ id, app, env: 'prod', ref: 'v0', requestedBy: 'ada', createdAt: t(2) });
      await ledger.markRunning(id, t(2));
      await ledger.finish(id, { state: 'succeeded', at: t(3) });
      matrix = await ledger.matrix(app, 'prod');
      expect(matrix.lastDeployedRef).toBe('v0');
      expect(matrix.hosts.map((h) => [h.host, h.drift, h.differsFromCommon])).toEqual([
        ['web1', true, false],
        ['web2', true, false],
        ['web3', false, true],
      ]);
      expect((await ledger.releases({ app })).map((r) => r.host)).toEqual(['web1', 'web2', 'web3', 'stage1']);
      expect((await ledger.releases({ app, env: 'staging' })).map((r) => r.ref)).toEqual(['v2']);
    });

    it('flags hosts on one branch name at different commits: by commit where known, by ref where not', async () => {
      const app = rand('app');
      const base = { app, env: 'prod' };
      const [a, b] = ['a'.repeat(40), 'b'.repeat(40)];
      await ledger.recordRelease({ ...base, host: 'web1', release: 'r1', ref: 'main', sha: a, at: t(1) });
      await ledger.recordRelease({ ...base, host: 'web2', release: 'r1', ref: 'main', sha: a, at: t(1) });
      await ledger.recordRelease({ ...base, host: 'web3', release: 'r1', ref: 'main', sha: b, at: t(1) });
      await ledger.recordRelease({ ...base, host: 'web4', release: 'r1', ref: 'main', at: t(1) }); // no commit known
      let matrix = await ledger.matrix(app, 'prod');
      expect([matrix.commonRef, matrix.commonSha]).toEqual(['main', a]);
      expect(matrix.hosts.map((h) => [h.host, h.drift])).toEqual([['web1', false], ['web2', false], ['web3', true], ['web4', false]]);

      // main is deployed again at commit b, to web3 only: the others now run an older main.
      const id = rand('dep');
      await ledger.createDeployment({ id, app, env: 'prod', ref: 'main', sha: b, requestedBy: 'ada', createdAt: t(2) });
      await ledger.markRunning(id, t(2));
      await ledger.finish(id, { state: 'succeeded', at: t(3) });
      matrix = await ledger.matrix(app, 'prod');
      expect([matrix.lastDeployedRef, matrix.lastDeployedSha]).toEqual(['main', b]);
      expect(matrix.hosts.map((h) => [h.host, h.drift, h.differsFromCommon])).toEqual([
        ['web1', true, false],
        ['web2', true, false],
        ['web3', false, true],
        ['web4', false, false],
      ]);
    });

    it('locks an environment or one app, returns the existing lock, and lets only the holder unlock', async () => {
      const env = rand('env');
      const first = await ledger.lock({ env, by: 'ada', reason: 'freeze', at: t(1) });
      expect(first).toEqual({ acquired: true, lock: { env, app: undefined, by: 'ada', reason: 'freeze', at: t(1) } });
      const again = await ledger.lock({ env, by: 'bob', reason: 'mine', at: t(2) });
      expect(again).toEqual({ acquired: false, lock: first.lock });
      expect(await ledger.lockOf(env, 'shop')).toEqual(first.lock);
      expect(await ledger.unlock(env, 'bob')).toEqual({ status: 'held-by-other', lock: first.lock });
      expect(await ledger.unlock(env, 'ada')).toEqual({ status: 'unlocked', lock: first.lock });
      expect(await ledger.lockOf(env)).toBeUndefined();
      expect(await ledger.unlock(env, 'ada')).toEqual({ status: 'not-locked' });

      const appLock = await ledger.lock({ env, app: 'shop', by: 'bob', reason: 'migration', at: t(3) });
      expect(appLock.acquired).toBe(true);
      expect(await ledger.lockOf(env, 'shop')).toMatchObject({ app: 'shop', by: 'bob' });
      expect(await ledger.lockOf(env, 'blog')).toBeUndefined();
      expect(await ledger.lockOf(env)).toBeUndefined();
      expect(await ledger.unlock(env, 'ada', { app: 'shop', force: true })).toMatchObject({ status: 'unlocked' });
      expect(await ledger.lockOf(env, 'shop')).toBeUndefined();
    });

    it('passes the build gate only for a commit with a succeeded build', async () => {
      const repo = rand('repo');
      const sha = 'b'.repeat(40);
      expect(await ledger.buildPassed(repo, sha)).toBe(false);
      await ledger.recordBuild({ repo, sha, status: 'started', job: 'shop-ci', number: 7, url: 'https://ci/7', at: t(1) });
      expect(await ledger.buildPassed(repo, sha)).toBe(false);
      await ledger.recordBuild({ repo, sha, status: 'failed', job: 'shop-ci', number: 7, at: t(2) });
      expect(await ledger.buildPassed(repo, sha)).toBe(false);
      await ledger.recordBuild({ repo, sha, status: 'succeeded', job: 'shop-ci', number: 8, at: t(3) });
      expect(await ledger.buildPassed(repo, sha)).toBe(true);
      expect(await ledger.buildPassed(repo, 'c'.repeat(40))).toBe(false);
      expect(await ledger.buildPassed(rand('repo'), sha)).toBe(false);
    });

    it('gives a lease to one owner until it expires or is released, and renews only for its holder', async () => {
      const key = `${rand('app')}/prod`;
      const now = Date.UTC(2026, 0, 1);
      expect(await ledger.tryAcquireLease(key, 'c1', 10_000, new Date(now))).toBe(true);
      expect(await ledger.tryAcquireLease(key, 'c2', 10_000, new Date(now + 5_000))).toBe(false);
      expect(await ledger.tryAcquireLease(key, 'c1', 10_000, new Date(now + 5_000))).toBe(true);
      expect(await ledger.leaseOf(key)).toEqual({ key, owner: 'c1', acquiredAt: new Date(now).toISOString(), expiresAt: new Date(now + 15_000).toISOString() });
      expect(await ledger.renewLease(key, 'c1', 10_000, new Date(now + 10_000))).toBe(true);
      expect(await ledger.renewLease(key, 'c2', 10_000, new Date(now + 10_000))).toBe(false);
      // Renewed to now+20s: still held at +19s, free at +20s.
      expect(await ledger.tryAcquireLease(key, 'c2', 10_000, new Date(now + 19_000))).toBe(false);
      expect(await ledger.tryAcquireLease(key, 'c2', 10_000, new Date(now + 20_000))).toBe(true);
      expect(await ledger.leaseOf(key)).toMatchObject({ owner: 'c2', acquiredAt: new Date(now + 20_000).toISOString() });
      expect(await ledger.renewLease(key, 'c1', 10_000, new Date(now + 21_000))).toBe(false);
      expect(await ledger.releaseLease(key, 'c1')).toBe(false);
      expect(await ledger.releaseLease(key, 'c2')).toBe(true);
      expect(await ledger.tryAcquireLease(key, 'c1', 10_000, new Date(now + 21_000))).toBe(true);
    });

    it('names a bad time instead of storing it', async () => {
      await expect(ledger.recordRelease({ app: 'a', env: 'e', host: 'h', release: 'r', ref: 'v', at: 'yesterday' })).rejects.toThrow(/at: "yesterday" is not a time/);
    });

    if (shared) {
      it('sees what another connection to the same database wrote, and a lease it holds', async () => {
        const other = await fixture.openAnother?.();
        if (other === undefined) throw new Error('this fixture says it is shared but opens no second ledger');
        try {
          expect(await other.migrate()).toEqual([]);
          const key = `${rand('app')}/prod`;
          const now = new Date();
          expect(await ledger.tryAcquireLease(key, 'c1', 60_000, now)).toBe(true);
          expect(await other.tryAcquireLease(key, 'c2', 60_000, now)).toBe(false);
          expect(await other.leaseOf(key)).toMatchObject({ owner: 'c1' });
        } finally {
          await other.close();
        }
      });
    }
  });
}
