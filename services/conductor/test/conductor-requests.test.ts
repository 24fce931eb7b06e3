// Lock changes, cancels and state queries over the bus: the conductor daemon on the in-memory bus with a
// SQLite ledger and fake agents (see support/conductor-world.ts).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, PayloadInputOf } from '@deploybus/protocol';
import { fitResult, RESTART_REASON } from '../src/index.js';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cleanUp, deploymentIdOf, finished, passBuild, SHA, world, type World } from './support/conductor-world.js';

afterEach(cleanUp);

async function ask(w: World, message: Message): Promise<Message> {
  const type = message.type;
  const result = await w.client.request(message, { expect: ['ops1'], timeoutMs: 10_000 });
  const reply = result.replies.get('ops1');
  if (reply === undefined) throw new Error(`the conductor did not answer the ${type}`);
  return reply;
}

const lock = (w: World, payload: PayloadInputOf<'lock.requested'>): Promise<Message> => ask(w, w.client.message('lock.requested', payload, { expectReplies: true }));
const cancel = (w: World, deploymentId: string, by = 'ada'): Promise<Message> =>
  ask(w, w.client.message('deploy.cancel-requested', { deploymentId, by, reason: 'wrong tag' }, { expectReplies: true }));
const query = (w: World, payload: PayloadInputOf<'state.query'>): Promise<Message> => ask(w, w.client.message('state.query', payload, { expectReplies: true }));

describe('conductor: locks over the bus', () => {
  it('lock then a deploy is refused LOCKED; someone else cannot unlock; the holder unlocks and the deploy is accepted', async () => {
    const w = await world({ hosts: ['web1'] });
    const lockEvents: Message[] = [];
    await w.client.subscribe({ patterns: ['conductor.lock.state.*'] }, (m) => {
      lockEvents.push(m);
    });
    await w.start();
    await passBuild(w);

    const locked = await lock(w, { env: 'production', action: 'lock', by: 'bob', reason: 'incident 311' });
    expect(locked.type).toBe('lock.state');
    expect(locked.payload).toMatchObject({ env: 'production', locked: true, by: 'bob', reason: 'incident 311', outcome: 'locked' });
    await waitFor('the lock change published for everyone', () => lockEvents.some((e) => (e.payload as { outcome: string }).outcome === 'locked'));

    const refused = await w.request({});
    expect(refused.payload).toMatchObject({ code: 'LOCKED' });
    expect((refused.payload as { reason: string }).reason).toContain('incident 311');

    expect((await lock(w, { env: 'production', action: 'lock', by: 'carol', reason: 'me too' })).payload).toMatchObject({ outcome: 'already-locked', locked: true, by: 'bob' });
    expect((await lock(w, { env: 'production', action: 'unlock', by: 'carol' })).payload).toMatchObject({ outcome: 'held-by-other', locked: true, by: 'bob' });
    const notAdmin = await lock(w, { env: 'production', action: 'unlock', by: 'carol', force: true });
    expect(notAdmin.payload).toMatchObject({ outcome: 'refused', locked: true });
    expect((notAdmin.payload as { error: string }).error).toContain('admins');
    expect((await w.request({})).payload).toMatchObject({ code: 'LOCKED' });

    expect((await lock(w, { env: 'production', action: 'unlock', by: 'bob' })).payload).toMatchObject({ outcome: 'unlocked', locked: false });
    expect((await lock(w, { env: 'production', action: 'unlock', by: 'bob' })).payload).toMatchObject({ outcome: 'not-locked', locked: false });
    const accepted = await w.request({});
    expect(accepted.type).toBe('deploy.queued');
    expect((await finished(w, deploymentIdOf(accepted))).type).toBe('deploy.succeeded');
  });

  it('an app lock refuses that app only; an admin force-unlocks a lock someone else holds', async () => {
    const w = await world({ hosts: ['web1'] });
    await w.start();
    await passBuild(w);
    expect((await lock(w, { env: 'production', app: 'blog', action: 'lock', by: 'bob', reason: 'blog migration' })).payload).toMatchObject({ app: 'blog', outcome: 'locked' });
    expect((await w.request({})).type).toBe('deploy.queued'); // shop is not locked
    expect((await lock(w, { env: 'production', app: 'shop', action: 'lock', by: 'bob', reason: 'shop freeze' })).payload).toMatchObject({ app: 'shop', outcome: 'locked' });
    expect((await w.request({ requestedBy: 'eve' })).payload).toMatchObject({ code: 'LOCKED' });
    expect((await lock(w, { env: 'production', app: 'shop', action: 'unlock', by: 'root', force: true })).payload).toMatchObject({ outcome: 'unlocked', locked: false });
    const ledger = await w.ledger();
    expect((await ledger.locks()).map((l) => [l.env, l.app])).toEqual([['production', 'blog']]);
  });

  it('a lock taken while deployments wait in the queue cancels them, naming the lock; one an admin forced still runs', async () => {
    const w = await world({ hosts: ['web1'] });
    w.fleet.behaviour.set('web1', 'hold');
    await w.start();
    await passBuild(w);
    const running = deploymentIdOf(await w.request({}));
    await waitFor('web1 holds the first deploy', () => w.fleet.held.length === 1);
    const waiting = deploymentIdOf(await w.request({ requestedBy: 'eve' }));
    expect((await lock(w, { env: 'production', action: 'lock', by: 'bob', reason: 'incident 311' })).payload).toMatchObject({ outcome: 'locked' });

    await w.fleet.held.shift()?.();
    expect((await finished(w, running)).type).toBe('deploy.succeeded'); // started before the lock: it ends as it was
    const cancelled = await finished(w, waiting);
    expect(cancelled.type).toBe('deploy.cancelled');
    expect(cancelled.payload).toMatchObject({ cancelledBy: 'bob' });
    expect((cancelled.payload as { reason: string }).reason).toMatch(/^production was locked by bob at .* \("incident 311"\) before this deployment started/);
    expect(await (await w.ledger()).deployment(waiting)).toMatchObject({ state: 'cancelled' });

    // Still locked: an admin's forced deploys run, the one queued behind another too.
    const forcedFirst = deploymentIdOf(await w.request({ requestedBy: 'root', force: true }));
    await waitFor('web1 holds the forced deploy', () => w.fleet.held.length === 1);
    const forcedQueued = deploymentIdOf(await w.request({ requestedBy: 'root', force: true, ref: SHA }));
    w.fleet.behaviour.set('web1', 'ok');
    await w.fleet.held.shift()?.();
    expect((await finished(w, forcedQueued)).type).toBe('deploy.succeeded');
    expect(w.fleet.commands.map((c) => c.payload.action === 'deploy' && c.payload.deploymentId)).toEqual([running, forcedFirst, forcedQueued]);
  });
});

describe('conductor: cancel over the bus', () => {
  it('cancels a queued deployment: deploy.cancelled, cancelled in the ledger, never sent to an agent', async () => {
    const w = await world({ hosts: ['web1'] });
    w.fleet.behaviour.set('web1', 'hold');
    await w.start();
    await passBuild(w);
    const first = deploymentIdOf(await w.request({}));
    await waitFor('the first deploy held by the agent', () => w.fleet.held.length === 1);
    const second = deploymentIdOf(await w.request({ requestedBy: 'bob' }));

    const result = await cancel(w, second, 'bob');
    expect(result.type).toBe('deploy.cancel-result');
    expect(result.payload).toMatchObject({ deploymentId: second, outcome: 'cancelled' });
    const cancelled = await finished(w, second);
    expect(cancelled.type).toBe('deploy.cancelled');
    expect(cancelled.payload).toMatchObject({ cancelledBy: 'bob', reason: 'wrong tag' });
    const ledger = await w.ledger();
    expect((await ledger.deployment(second))?.state).toBe('cancelled');

    expect((await cancel(w, second)).payload).toMatchObject({ outcome: 'already-finished', state: 'cancelled' });
    expect((await cancel(w, 'd-no-such-deployment')).payload).toMatchObject({ outcome: 'not-found' });

    await w.fleet.held.shift()?.();
    expect((await finished(w, first)).type).toBe('deploy.succeeded');
    await waitFor('the first finished in the ledger', async () => (await ledger.deployment(first))?.state === 'succeeded');
    expect(w.fleet.commands.map((c) => c.payload.action === 'deploy' && c.payload.deploymentId)).toEqual([first]);
    expect(await ledger.unfinished()).toEqual([]);
  });

  it('cancels a queued deployment nobody is draining, without taking its lease', async () => {
    const w = await world({ hosts: ['web1'] });
    await w.start();
    const ledger = await w.ledger();
    await ledger.createDeployment({ id: 'd-queued-nobody-1', app: 'blog', env: 'staging', ref: SHA, sha: SHA, requestedBy: 'ada', createdAt: new Date(), options: {} });
    expect((await cancel(w, 'd-queued-nobody-1')).payload).toMatchObject({ outcome: 'cancelled' });
    expect(await ledger.deployment('d-queued-nobody-1')).toMatchObject({ state: 'cancelled', reason: 'cancelled by ada: wrong tag' });
    expect((await finished(w, 'd-queued-nobody-1')).payload).toMatchObject({ app: 'blog', env: 'staging', cancelledBy: 'ada' });
    expect(await ledger.leaseOf('deploy/blog/staging')).toBeUndefined();
    expect(w.fleet.commands).toHaveLength(0);
  });

  it('cancels a queued deployment whose app/env lease a dead conductor still holds: answered at once, never started by the conductor that takes over', async () => {
    const w = await world({ hosts: ['web1'] });
    const seed = await w.ledger();
    // A conductor elsewhere ran d-running-gone and died; d-queued-behind waits behind it, and the dead one's lease has a while to run.
    await seed.createDeployment({ id: 'd-running-gone', app: 'shop', env: 'production', ref: SHA, sha: SHA, requestedBy: 'ada', createdAt: new Date(), options: {} });
    expect(await seed.markRunning('d-running-gone', new Date())).toBe(true);
    await seed.createDeployment({ id: 'd-queued-behind', app: 'shop', env: 'production', ref: SHA, sha: SHA, requestedBy: 'bob', createdAt: new Date(), options: { rollout: { canary: 0, batchSize: 1, maxUnavailable: 1, pauseMs: 0, hostTimeoutMs: 5_000, rollbackOnFailure: true } } });
    expect(await seed.tryAcquireLease('deploy/shop/production', 'conductor-gone', 1_500, new Date())).toBe(true);
    await w.start({ leaseTtlMs: 200 });

    expect((await cancel(w, 'd-queued-behind', 'bob')).payload).toMatchObject({ deploymentId: 'd-queued-behind', outcome: 'cancelled', state: 'cancelled' });
    // The lease runs out: the conductor takes over, fails the interrupted rollout, and starts nothing.
    expect((await finished(w, 'd-running-gone')).payload).toMatchObject({ reason: RESTART_REASON });
    await waitFor('the lease given back', async () => (await seed.leaseOf('deploy/shop/production')) === undefined);
    expect(await seed.deployment('d-queued-behind')).toMatchObject({ state: 'cancelled', reason: 'cancelled by bob: wrong tag' });
    expect(w.fleet.commands).toHaveLength(0);
  });

  it('cancels a running rollout between batches: the batch in flight finishes, later hosts never get a command', async () => {
    const w = await world({ hosts: ['web1', 'web2', 'web3'] });
    w.fleet.behaviour.set('web1', 'hold');
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({}));
    await waitFor('web1 holds its deploy', () => w.fleet.held.length === 1);

    expect((await cancel(w, id)).payload).toMatchObject({ deploymentId: id, outcome: 'cancelling' });
    await w.fleet.held.shift()?.();
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.cancelled');
    expect(end.payload).toMatchObject({ cancelledBy: 'ada', reason: 'wrong tag' });
    expect(w.fleet.commands.map((c) => [c.payload.host, c.payload.action])).toEqual([['web1', 'deploy']]);
    const ledger = await w.ledger();
    await waitFor('cancelled in the ledger', async () => (await ledger.deployment(id))?.state === 'cancelled');
    expect((await ledger.deployment(id))?.hosts.map((h) => [h.host, h.outcome])).toEqual([['web1', 'succeeded']]);
    expect((await cancel(w, id)).payload).toMatchObject({ outcome: 'already-finished', state: 'cancelled' });
  });

  it('answers "finishing" to a cancel while a failed rollout rolls back, and the rollout ends failed, not cancelled', async () => {
    const w = await world({ hosts: ['web1', 'web2'] });
    w.fleet.behaviour.set('web1', 'rollback-hold');
    w.fleet.behaviour.set('web2', 'fail');
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({}));
    await waitFor('web1 holds its rollback', () => w.fleet.held.length === 1);
    expect((await cancel(w, id)).payload).toMatchObject({ deploymentId: id, outcome: 'finishing', state: 'running' });
    await w.fleet.held.shift()?.();
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.failed');
    expect(w.events.some((e) => e.type === 'deploy.cancelled' && (e.payload as { deploymentId: string }).deploymentId === id)).toBe(false);
  });
});

describe('conductor: cancel with two conductors', () => {
  it('only the conductor running the rollout answers and acts; the other stays silent', async () => {
    const w = await world({ hosts: ['web1', 'web2'] });
    w.fleet.behaviour.set('web1', 'hold');
    await w.start();
    await w.start({ host: 'ops2' });
    await passBuild(w);
    const id = deploymentIdOf(await w.request({}));
    await waitFor('web1 holds its deploy', () => w.fleet.held.length === 1);

    const message = w.client.message('deploy.cancel-requested', { deploymentId: id, by: 'ada', reason: 'wrong tag' }, { expectReplies: true });
    const result = await w.client.request(message, { expect: ['ops1', 'ops2'], timeoutMs: 1_500 });
    expect([...result.replies.values()].map((r) => r.payload)).toEqual([{ deploymentId: id, outcome: 'cancelling', state: 'running' }]);
    expect(result.missing).toHaveLength(1);

    await w.fleet.held.shift()?.();
    expect((await finished(w, id)).type).toBe('deploy.cancelled');
    expect(w.fleet.commands.map((c) => c.payload.host)).toEqual(['web1']);
    expect(w.events.filter((e) => e.type === 'deploy.cancelled')).toHaveLength(1);
  });
});

describe('conductor: a pinned commit', () => {
  it('deploys the pinned commit under its ref, whatever the ref names now; a commit-id ref other than the pin is refused', async () => {
    const w = await world({ hosts: ['web1'] });
    const repo = join(w.dir, 'repo');
    const git = (...args: string[]): string => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' }).trim();
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    git('commit', '-q', '--allow-empty', '-m', 'first');
    const first = git('rev-parse', 'HEAD');
    git('commit', '-q', '--allow-empty', '-m', 'second'); // main has moved on
    const second = git('rev-parse', 'HEAD');
    await w.start({ apps: { shop: { repoUrl: repo } } });
    await passBuild(w, first);
    await passBuild(w, second);

    const unpinned = deploymentIdOf(await w.request({ ref: 'main' }));
    expect((await finished(w, unpinned)).type).toBe('deploy.succeeded');
    const pinnedReply = await w.request({ ref: 'main', sha: first });
    expect(pinnedReply.payload).toMatchObject({ ref: 'main', sha: first });
    const pinned = deploymentIdOf(pinnedReply);
    expect((await finished(w, pinned)).type).toBe('deploy.succeeded');
    const shas = w.fleet.commands.flatMap((c) => (c.payload.action === 'deploy' ? [[c.payload.deploymentId, c.payload.sha]] : []));
    expect(shas).toEqual([
      [unpinned, second],
      [pinned, first],
    ]);
    expect(await (await w.ledger()).deployment(pinned)).toMatchObject({ ref: 'main', sha: first });

    const clash = await w.request({ ref: second, sha: first });
    expect(clash.type).toBe('deploy.refused');
    expect(clash.payload).toMatchObject({ code: 'INVALID_REQUEST', reason: `ref ${second} is a commit id other than the pinned sha ${first}; give one commit` });
    expect(w.fleet.commands).toHaveLength(2);
  });
});

describe('conductor: state queries over the bus', () => {
  it('answers every kind with what the ledger holds', async () => {
    const w = await world({ hosts: ['web1', 'web2', 'web3'] });
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({}));
    expect((await finished(w, id)).type).toBe('deploy.succeeded');
    const ledger = await w.ledger();
    await waitFor('succeeded in the ledger', async () => (await ledger.deployment(id))?.state === 'succeeded');
    const at = new Date().toISOString();
    await w.client.publish(
      w.client.message('task.log', { deploymentId: id, app: 'shop', env: 'production', host: 'web2', step: 'restart', seq: 0, lines: ['one', 'two', 'three'].map((text) => ({ stream: 'stdout' as const, text, at })) }),
    );
    await waitFor('the log lines in the ledger', async () => (await ledger.logs(id)).length === 3);
    await ledger.lock({ env: 'staging', by: 'bob', reason: 'tests', at: new Date() });
    await ledger.createDeployment({ id: 'd-queued-blog-1', app: 'blog', env: 'staging', ref: SHA, sha: SHA, requestedBy: 'ada', createdAt: new Date(), options: {} });

    const result = async (payload: PayloadInputOf<'state.query'>): Promise<unknown> => {
      const reply = await query(w, payload);
      expect(reply.type).toBe('state.reply');
      expect(reply.payload).not.toHaveProperty('error');
      expect(reply.payload).toMatchObject({ kind: payload.kind });
      return (reply.payload as { result: unknown }).result;
    };

    expect(await result({ kind: 'history', app: 'shop' })).toMatchObject([{ id, state: 'succeeded', ref: SHA }]);
    expect(await result({ kind: 'history', limit: 1 })).toMatchObject([{ id: 'd-queued-blog-1' }]);
    expect(await result({ kind: 'history', offset: 1, limit: 1 })).toMatchObject([{ id }]);
    const deployment = (await result({ kind: 'deployment', deploymentId: id })) as { hosts: Array<{ host: string; outcome: string }> };
    expect(deployment).toMatchObject({ id, app: 'shop', state: 'succeeded' });
    expect(deployment.hosts.map((h) => [h.host, h.outcome]).sort()).toEqual([['web1', 'succeeded'], ['web2', 'succeeded'], ['web3', 'succeeded']]);
    expect(await result({ kind: 'deployment', deploymentId: 'd-not-there' })).toBeNull();
    expect(((await result({ kind: 'releases', app: 'shop', env: 'production' })) as Array<{ host: string }>).map((r) => r.host)).toEqual(['web1', 'web2', 'web3']);
    expect(await result({ kind: 'releases', host: 'web2' })).toMatchObject([{ host: 'web2', app: 'shop', ref: SHA }]);
    expect(await result({ kind: 'matrix', app: 'shop', env: 'production' })).toMatchObject({ app: 'shop', env: 'production', commonRef: SHA, lastDeployedRef: SHA });
    expect(await result({ kind: 'locks' })).toMatchObject([{ env: 'staging', by: 'bob', reason: 'tests' }]);
    expect(await result({ kind: 'locks', env: 'production' })).toEqual([]);
    expect(await result({ kind: 'queue' })).toMatchObject([{ id: 'd-queued-blog-1', state: 'queued' }]);
    expect(await result({ kind: 'queue', app: 'shop' })).toEqual([]);
    expect(((await result({ kind: 'logs', deploymentId: id })) as Array<{ line: string }>).map((l) => l.line)).toEqual(['one', 'two', 'three']);
    expect(((await result({ kind: 'logs', deploymentId: id, offset: 1, limit: 1 })) as Array<{ line: string }>).map((l) => l.line)).toEqual(['two']);
    expect(((await result({ kind: 'logs', deploymentId: id, tail: 2, host: 'web2' })) as Array<{ line: string }>).map((l) => l.line)).toEqual(['two', 'three']);

    type EventsAnswer = { events: Array<{ seq: number; id: string; type: string; deploymentId?: string }>; cursor: number };
    const all = (await result({ kind: 'events', deploymentId: id })) as EventsAnswer;
    expect(all.events.map((e) => e.type)).toEqual(w.events.filter((e) => (e.payload as { deploymentId?: string }).deploymentId === id).map((e) => e.type));
    expect(all.events.map((e) => e.type)).toContain('deploy.succeeded');
    const firstTwo = (await result({ kind: 'events', deploymentId: id, limit: 2 })) as EventsAnswer;
    const rest = (await result({ kind: 'events', deploymentId: id, after: firstTwo.cursor })) as EventsAnswer;
    expect([...firstTwo.events, ...rest.events].map((e) => e.id)).toEqual(all.events.map((e) => e.id));
    // afterId: a live event's message id is enough to continue after it.
    const second = firstTwo.events[1];
    const afterSecond = (await result({ kind: 'events', deploymentId: id, afterId: second?.id ?? '' })) as EventsAnswer;
    expect(afterSecond.events.map((e) => e.id)).toEqual(rest.events.map((e) => e.id));
    expect(afterSecond.cursor).toBe(rest.cursor);
    const outcomes = (await result({ kind: 'events', types: ['deploy.succeeded', 'deploy.host-result'] })) as EventsAnswer;
    expect(new Set(outcomes.events.map((e) => e.type))).toEqual(new Set(['deploy.succeeded', 'deploy.host-result']));
  });

  it('lists an app\'s tags from its repository, newest version first', async () => {
    const w = await world({ hosts: ['web1'] });
    const repo = join(w.dir, 'repo');
    const git = (...args: string[]): string => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' }).trim();
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    for (const tag of ['v1.2.0', 'v1.10.0', 'v1.9.1']) {
      git('commit', '-q', '--allow-empty', '-m', tag);
      git('tag', tag);
    }
    await w.start({ apps: { shop: { repoUrl: repo } } });
    const reply = await query(w, { kind: 'tags', app: 'shop' });
    expect((reply.payload as { result: Array<{ name: string; sha: string }> }).result.map((t) => t.name)).toEqual(['v1.10.0', 'v1.9.1', 'v1.2.0']);
    const noUrl = await query(w, { kind: 'tags', app: 'blog' });
    expect((noUrl.payload as { error: string }).error).toMatch(/^app: blog has no repository URL/);
    const missing = await w.request({ ref: 'v9.9.9' });
    expect(missing.payload).toMatchObject({ code: 'BAD_REF', reason: "v9.9.9 is not a tag, branch or commit of shop's repository" });
  });

  it('refuses a deploy at once, naming git\'s error, when the repository cannot be asked what the ref names', async () => {
    const w = await world({ hosts: ['web1'] });
    // Nothing is there: git ls-remote fails (this used to leave the request to the bus's retries, unanswered).
    await w.start({ apps: { shop: { repoUrl: join(w.dir, 'no-such-repo') } } });
    const reply = await w.request({ ref: 'v1.0.0' });
    expect(reply.type).toBe('deploy.refused');
    expect(reply.payload).toMatchObject({ code: 'REF_LOOKUP_FAILED' });
    expect((reply.payload as { reason: string }).reason).toMatch(/^could not look v1\.0\.0 up in shop's repository, so nothing was queued: git ls-remote failed: .*no-such-repo/);
    expect(await (await w.ledger()).unfinished()).toEqual([]);
    expect(w.fleet.commands).toHaveLength(0);
  });

  it('refuses a request at once, ROSTER_UNAVAILABLE, when keepalive does not answer', async () => {
    const w = await world({ hosts: ['web1'] });
    // The roster is asked of a keepalive that is not there (this used to leave the request to the bus's retries and a dead letter).
    await w.start({ roster: { keepaliveHosts: ['ka-gone'], timeoutMs: 300 } });
    const reply = await w.request({ ref: SHA });
    expect(reply.type).toBe('deploy.refused');
    expect(reply.payload).toMatchObject({ code: 'ROSTER_UNAVAILABLE' });
    expect((reply.payload as { reason: string }).reason).toMatch(/^no complete roster from keepalive \(ka-gone\): no answer within 300 ms from ka-gone; is keepalive running\? Nothing was queued\.$/);
    expect(await (await w.ledger()).unfinished()).toEqual([]);
    expect(w.fleet.commands).toHaveLength(0);
  });

  it('answers a bad query with an error naming the bad field', async () => {
    const w = await world({ hosts: ['web1'] });
    await w.start();
    const error = async (payload: PayloadInputOf<'state.query'>): Promise<string> => {
      const reply = await query(w, payload);
      expect(reply.type).toBe('state.reply');
      expect(reply.payload).not.toHaveProperty('result');
      return (reply.payload as { error: string }).error;
    };
    expect(await error({ kind: 'everything' })).toMatch(/^kind: must be one of history, deployment/);
    expect(await error({ kind: 'history', limit: 5000 })).toMatch(/^limit: /);
    expect(await error({ kind: 'history', limit: 0 })).toMatch(/^limit: /);
    expect(await error({ kind: 'history', offset: -1 })).toMatch(/^offset: /);
    expect(await error({ kind: 'history', limit: 2.5 })).toMatch(/^limit: /);
    expect(await error({ kind: 'releases', app: '../etc' })).toMatch(/^app: /);
    expect(await error({ kind: 'releases', host: 'web 1' })).toMatch(/^host: /);
    expect(await error({ kind: 'deployment' })).toBe('deploymentId: required for kind deployment');
    expect(await error({ kind: 'logs', deploymentId: 'x' })).toMatch(/^deploymentId: /);
    expect(await error({ kind: 'matrix', app: 'shop' })).toBe('env: required for kind matrix');
    expect(await error({ kind: 'history', tail: 5 })).toMatch(/^tail: /);
    expect(await error({ kind: 'tags' })).toBe('app: required for kind tags');
    expect(await error({ kind: 'history', after: 3 })).toBe('after: only for kind events, not history');
    expect(await error({ kind: 'events', after: -1 })).toMatch(/^after: /);
    expect(await error({ kind: 'events', types: ["deploy.%' --"] })).toMatch(/^types\.0: must be event types/);
    expect(await error({ kind: 'events', afterId: 'no-such-event-id' })).toMatch(/^afterId: the event log holds no event no-such-event-id/);
    expect(await error({ kind: 'events', afterId: 'has a space' })).toMatch(/^afterId: must be an event id/);
    expect(await error({ kind: 'events', after: 1, afterId: 'some-event-id' })).toBe('afterId: give after or afterId, not both');
    expect(await error({ kind: 'history', afterId: 'some-event-id' })).toBe('afterId: only for kind events, not history');
  });

  it('keeps an answer under the size budget by dropping rows from the end, and says so', () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ i, text: 'x'.repeat(100) }));
    const fitted = fitResult(rows, 2_000);
    expect(fitted.truncated).toBe(true);
    const kept = fitted.result as typeof rows;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(100);
    expect(JSON.stringify(kept).length).toBeLessThanOrEqual(2_000);
    expect(kept[0]).toEqual(rows[0]);
    const object = fitResult({ app: 'shop', hosts: rows }, 2_000);
    expect(object.truncated).toBe(true);
    expect((object.result as { app: string; hosts: unknown[] }).app).toBe('shop');
    expect(fitResult(rows.slice(0, 2), 2_000)).toEqual({ result: rows.slice(0, 2), truncated: false });
    // A tail keeps its newest rows: the ones dropped are the oldest.
    const tail = fitResult(rows, 2_000, 'end');
    const newest = tail.result as typeof rows;
    expect(tail.truncated).toBe(true);
    expect(newest.at(-1)).toEqual(rows[99]);
    expect(newest).toEqual(rows.slice(100 - newest.length));
  });

  it('answers a history page far down (offset near the ledger\'s row limit) instead of failing the query', async () => {
    const w = await world({ hosts: ['web1'] });
    await w.start();
    const reply = await query(w, { kind: 'history', app: 'shop', offset: 9_995, limit: 10 });
    expect(reply.payload).toMatchObject({ kind: 'history', result: [] });
    expect(reply.payload).not.toHaveProperty('error');
  });
});
