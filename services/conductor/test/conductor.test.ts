// The conductor daemon on the in-memory bus with a SQLite ledger in a temp dir: deploy requests
// answered and gated, rollouts driven through fake agents that verify each command's signature, and
// everything recorded in the ledger. keepalive is played by a tiny roster.query responder.
import { afterEach, describe, expect, it } from 'vitest';
import { openLedger } from '@deploybus/store';
import { RESTART_REASON } from '../src/index.js';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cleanUp, deploymentIdOf, finished, OTHER_SHA, passBuild, SHA, world } from './support/conductor-world.js';

afterEach(cleanUp);

describe('conductor daemon', () => {
  it('deploys 3 hosts in batches of 1: signed commands, deploy.* events in order, and the ledger shows it', async () => {
    const w = await world();
    await w.start();
    await passBuild(w);
    const reply = await w.request({});
    expect(reply.type).toBe('deploy.queued');
    expect(reply.payload).toMatchObject({ app: 'shop', env: 'production', ref: SHA, sha: SHA, position: 0 });
    const id = deploymentIdOf(reply);
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.succeeded');
    expect(end.payload).toMatchObject({ succeededHosts: ['web1', 'web2', 'web3'], failedHosts: [] });

    const types = w.eventsOf(id).map((e) => e.type);
    expect(types).toEqual(['deploy.queued', 'deploy.started', 'deploy.batch', 'deploy.host-result', 'deploy.batch', 'deploy.host-result', 'deploy.batch', 'deploy.host-result', 'deploy.succeeded']);
    const started = w.eventsOf(id).find((e) => e.type === 'deploy.started');
    expect(started?.payload).toMatchObject({ batches: [['web1'], ['web2'], ['web3']], sha: SHA });
    expect(w.eventsOf(id).filter((e) => e.type === 'deploy.host-result').map((e) => (e.payload as { host: string }).host)).toEqual(['web1', 'web2', 'web3']);

    // Every command was signed with the configured key, and one deploy went to each host.
    expect(w.fleet.verified).toEqual([true, true, true]);
    expect(w.fleet.commands.map((c) => [c.payload.host, c.payload.action])).toEqual([['web1', 'deploy'], ['web2', 'deploy'], ['web3', 'deploy']]);
    expect(w.fleet.commands[0]?.replyTo).toMatch(/^reply\.conductor_/);

    const ledger = await w.ledger();
    await waitFor('the deployment finished in the ledger', async () => (await ledger.deployment(id))?.state === 'succeeded');
    const deployment = await ledger.deployment(id);
    expect(deployment?.hosts.map((h) => [h.host, h.outcome])).toEqual(expect.arrayContaining([['web1', 'succeeded'], ['web2', 'succeeded'], ['web3', 'succeeded']]));
    expect((await ledger.history({ app: 'shop', env: 'production', limit: 10 })).map((d) => d.id)).toEqual([id]);
    expect((await ledger.releases({ app: 'shop', env: 'production' })).map((r) => [r.host, r.ref])).toEqual([['web1', SHA], ['web2', SHA], ['web3', SHA]]);
    const recorded = (await ledger.eventsAfter(0, 100)).events.filter((e) => e.deploymentId === id).map((e) => e.type);
    expect(recorded).toEqual(types);
  });

  it('asks keepalive for the roster once for a deploy that starts at once: the request\'s answer stands for the start', async () => {
    const w = await world();
    await w.start();
    await passBuild(w);
    const queries: string[] = [];
    await w.client.subscribe({ patterns: ['roster.query'] }, (query) => {
      queries.push(query.id);
    });
    const id = deploymentIdOf(await w.request({}));
    expect((await finished(w, id)).type).toBe('deploy.succeeded');
    expect(queries).toHaveLength(1);
  });

  it('stops at a failing second host and rolls the first back; the third is never sent a command', async () => {
    const w = await world();
    w.fleet.behaviour.set('web2', 'fail');
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({}));
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.failed');
    expect(end.payload).toMatchObject({ succeededHosts: [], failedHosts: ['web2', 'web1'] });
    expect((end.payload as { reason: string }).reason).toContain('web2');
    expect(w.fleet.commands.map((c) => [c.payload.host, c.payload.action])).toEqual([['web1', 'deploy'], ['web2', 'deploy'], ['web1', 'rollback']]);
    expect(w.fleet.commands[2]?.payload).toMatchObject({ release: 'r-old' });

    const ledger = await w.ledger();
    await waitFor('failed in the ledger', async () => (await ledger.deployment(id))?.state === 'failed');
    const hosts = new Map((await ledger.deployment(id))?.hosts.map((h) => [h.host, h.outcome]));
    expect(hosts).toEqual(new Map([['web1', 'rolled-back'], ['web2', 'failed']]));
  });

  it('a host whose rollback fails stays recorded as running the new release, not as a failed deploy', async () => {
    const w = await world();
    w.fleet.behaviour.set('web1', 'rollback-fails');
    w.fleet.behaviour.set('web2', 'fail');
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({}));
    const end = await finished(w, id);
    expect(end.payload).toMatchObject({ succeededHosts: ['web1'], failedHosts: ['web2'] });
    const ledger = await w.ledger();
    await waitFor('failed in the ledger', async () => (await ledger.deployment(id))?.state === 'failed');
    const web1 = (await ledger.deployment(id))?.hosts.find((h) => h.host === 'web1');
    expect(web1).toMatchObject({ outcome: 'rollback-failed', release: 'r-new-1' });
    expect(web1?.error).toContain('rollback failed, the host still runs');
    const matrix = await ledger.releases({ app: 'shop', env: 'production' });
    expect(matrix.find((r) => r.host === 'web1')).toMatchObject({ release: 'r-new-1' });
  });

  it('refuses a locked environment with LOCKED, unless an admin forces it', async () => {
    const w = await world({ hosts: ['web1'] });
    await w.start();
    await passBuild(w);
    const ledger = await w.ledger();
    await ledger.lock({ env: 'production', by: 'bob', reason: 'incident 311', at: new Date() });

    const refused = await w.request({});
    expect(refused.type).toBe('deploy.refused');
    expect(refused.payload).toMatchObject({ code: 'LOCKED' });
    expect((refused.payload as { reason: string }).reason).toContain('incident 311');
    await waitFor('the refusal published for everyone', () => w.events.some((e) => e.type === 'deploy.refused'));

    const notAdmin = await w.request({ force: true });
    expect(notAdmin.payload).toMatchObject({ code: 'INVALID_REQUEST' });

    const forced = await w.request({ force: true, requestedBy: 'root' });
    const end = await finished(w, deploymentIdOf(forced));
    expect(end.type).toBe('deploy.succeeded');
    expect(w.fleet.commands).toHaveLength(1);
  });

  it('refuses a commit without a succeeded build, and a ref it cannot resolve', async () => {
    const w = await world({ hosts: ['web1'] });
    await w.start();
    await passBuild(w, OTHER_SHA);
    const unbuilt = await w.request({});
    expect(unbuilt.type).toBe('deploy.refused');
    expect(unbuilt.payload).toMatchObject({ code: 'BUILD_NOT_PASSED' });

    const tag = await w.request({ ref: 'v1.4.1' });
    expect(tag.payload).toMatchObject({ code: 'BAD_REF' });
    expect((tag.payload as { reason: string }).reason).toContain('apps.shop.repoUrl');
    expect(w.fleet.commands).toHaveLength(0);
    const ledger = await w.ledger();
    expect(await ledger.history({ limit: 10 })).toEqual([]);
  });

  it('reports a silent agent as no-response and the deploy as failed', async () => {
    const w = await world({ hosts: ['web1'] });
    w.fleet.behaviour.set('web1', 'silent');
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({ rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 300 } }));
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.failed');
    const result = w.eventsOf(id).find((e) => e.type === 'deploy.host-result');
    expect(result?.payload).toMatchObject({ host: 'web1', outcome: 'no-response' });
    const ledger = await w.ledger();
    await waitFor('failed in the ledger', async () => (await ledger.deployment(id))?.state === 'failed');
    expect((await ledger.deployment(id))?.hosts).toMatchObject([{ host: 'web1', outcome: 'no-response' }]);
  });

  it('queues a second request behind a running one and starts it when the first ends', async () => {
    const w = await world({ hosts: ['web1'] });
    w.fleet.behaviour.set('web1', 'hold');
    await w.start();
    await passBuild(w);
    const first = deploymentIdOf(await w.request({}));
    await waitFor('the first deploy command held by the agent', () => w.fleet.held.length === 1);

    const secondReply = await w.request({ requestedBy: 'bob' });
    expect(secondReply.payload).toMatchObject({ position: 1 });
    const second = deploymentIdOf(secondReply);
    expect(w.eventsOf(second).map((e) => e.type)).toEqual(['deploy.queued']);

    await w.fleet.held.shift()?.();
    expect((await finished(w, first)).type).toBe('deploy.succeeded');
    await waitFor('the second deploy command', () => w.fleet.held.length === 1);
    await w.fleet.held.shift()?.();
    expect((await finished(w, second)).type).toBe('deploy.succeeded');

    // The second started only after the first had ended.
    const order = w.events.filter((e) => ['deploy.started', 'deploy.succeeded'].includes(e.type)).map((e) => `${e.type}:${(e.payload as { deploymentId: string }).deploymentId === first ? 'first' : 'second'}`);
    expect(order).toEqual(['deploy.started:first', 'deploy.succeeded:first', 'deploy.started:second', 'deploy.succeeded:second']);
    expect(w.fleet.commands.map((c) => c.payload.action === 'deploy' && c.payload.deploymentId)).toEqual([first, second]);
  });

  it('at start, finishes a deployment left running by a conductor that is gone as failed', async () => {
    const w = await world({ hosts: ['web1'] });
    const before = await openLedger(w.ledgerUrl);
    await before.migrate();
    await before.createDeployment({ id: 'd-interrupted-1', app: 'shop', env: 'production', ref: SHA, sha: SHA, requestedBy: 'ada', createdAt: new Date(), options: {} });
    expect(await before.markRunning('d-interrupted-1', new Date())).toBe(true);
    await before.close();

    await w.start();
    const end = await finished(w, 'd-interrupted-1');
    expect(end.type).toBe('deploy.failed');
    expect(end.payload).toMatchObject({ reason: RESTART_REASON });
    const ledger = await w.ledger();
    expect(await ledger.deployment('d-interrupted-1')).toMatchObject({ state: 'failed', reason: RESTART_REASON });
    expect(await ledger.unfinished()).toEqual([]);
    expect(w.fleet.commands).toHaveLength(0);
  });

  it('at start, a deployment that was queued behind the interrupted one is not failed: it starts', async () => {
    const w = await world({ hosts: ['web1'] });
    const before = await openLedger(w.ledgerUrl);
    await before.migrate();
    const options = { rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 5_000 } };
    await before.createDeployment({ id: 'd-interrupted-2', app: 'shop', env: 'production', ref: SHA, sha: SHA, requestedBy: 'ada', createdAt: new Date(), options });
    expect(await before.markRunning('d-interrupted-2', new Date())).toBe(true);
    await before.createDeployment({ id: 'd-waiting-2', app: 'shop', env: 'production', ref: SHA, sha: SHA, requestedBy: 'grace', createdAt: new Date(), options });
    await before.close();

    await w.start();
    expect((await finished(w, 'd-interrupted-2')).payload).toMatchObject({ reason: RESTART_REASON });
    const end = await finished(w, 'd-waiting-2');
    expect(end.type).toBe('deploy.succeeded');
    expect(w.fleet.commands.map((c) => c.payload.action === 'deploy' && c.payload.deploymentId)).toEqual(['d-waiting-2']);
  });

  it('leaves a deployment alone while another conductor holds its lease, and takes over once the lease runs out', async () => {
    const w = await world({ hosts: ['web1'] });
    const before = await openLedger(w.ledgerUrl);
    await before.migrate();
    await before.createDeployment({ id: 'd-other-conductor', app: 'shop', env: 'production', ref: SHA, sha: SHA, requestedBy: 'ada', createdAt: new Date(), options: {} });
    expect(await before.markRunning('d-other-conductor', new Date())).toBe(true);
    expect(await before.tryAcquireLease('deploy/shop/production', 'conductor-elsewhere', 1_500, new Date())).toBe(true);
    await before.close();

    await w.start({ leaseTtlMs: 200 });
    const ledger = await w.ledger();
    // Recovery at start saw the lease held: the deployment still runs for its owner.
    expect((await ledger.deployment('d-other-conductor'))?.state).toBe('running');
    const end = await finished(w, 'd-other-conductor');
    expect(end.payload).toMatchObject({ reason: RESTART_REASON });
    expect((await ledger.deployment('d-other-conductor'))?.state).toBe('failed');
  });

  it('a conductor that loses its lease mid-rollout stops before the next batch, and publishes no outcome over the one the new holder wrote', async () => {
    const w = await world({ hosts: ['web1', 'web2', 'web3'] });
    w.fleet.behaviour.set('web1', 'hold');
    await w.start({ leaseTtlMs: 300, logLevel: 'info' });
    await passBuild(w);
    const id = deploymentIdOf(await w.request({ rollout: { canary: 0, batchSize: 1, hostTimeoutMs: 5_000 } }));
    await waitFor('web1 holds its deploy', () => w.fleet.held.length === 1);

    // Another conductor takes the app/env over (as after this one's ledger was unreachable past the lease) and fails the rollout.
    const ledger = await w.ledger();
    const key = 'deploy/shop/production';
    const owner = (await ledger.leaseOf(key))?.owner ?? '';
    expect(await ledger.releaseLease(key, owner)).toBe(true);
    expect(await ledger.tryAcquireLease(key, 'conductor-other', 60_000, new Date())).toBe(true);
    expect(await ledger.finish(id, { state: 'failed', at: new Date(), reason: RESTART_REASON, onlyFrom: ['running'] })).toBe(true);
    await waitFor('the lost lease noticed', () => w.daemonLog.some((line) => line.includes('lost the lease of shop in production to another conductor')));

    await w.fleet.held.shift()?.();
    await waitFor('the rollout to end', () => w.daemonLog.some((line) => line.includes('finished by another conductor')));
    expect(w.fleet.commands.map((c) => c.payload.host)).toEqual(['web1']);
    expect(w.eventsOf(id).map((e) => e.type).filter((t) => ['deploy.succeeded', 'deploy.failed', 'deploy.cancelled'].includes(t))).toEqual([]);
    expect(await ledger.deployment(id)).toMatchObject({ state: 'failed', reason: RESTART_REASON });
  });

  it('a conductor that stops gives its app/env lease up, so another can start what is queued at once', async () => {
    const w = await world({ hosts: ['web1'] });
    w.fleet.behaviour.set('web1', 'hold');
    const handle = await w.start({ leaseTtlMs: 60_000 });
    await passBuild(w);
    const running = deploymentIdOf(await w.request({}));
    await waitFor('web1 holds its deploy', () => w.fleet.held.length === 1);
    const queued = deploymentIdOf(await w.request({ requestedBy: 'eve' }));
    const ledger = await w.ledger();
    expect(await ledger.leaseOf('deploy/shop/production')).toBeDefined();
    const stopped = handle.stop();
    await w.fleet.held.shift()?.();
    await stopped;
    expect((await finished(w, running)).type).toBe('deploy.succeeded'); // its one batch was in flight: it ends as it was
    expect(await ledger.leaseOf('deploy/shop/production')).toBeUndefined();
    expect(await ledger.deployment(queued)).toMatchObject({ state: 'queued' });
  });

  it('records what runs where from agents\' heartbeats, so the release matrix shows drift', async () => {
    const w = await world();
    await w.start();
    const ledger = await w.ledger();
    const beat = (host: string, ref: string) =>
      w.client.publish(
        w.client.message('heartbeat', {
          service: 'deploy-agent',
          host,
          instance: `${host}-1`,
          version: '0.1.0',
          uptimeMs: 1,
          intervalMs: 1000,
          apps: [{ app: 'shop', env: 'production', release: `20261122100000000-${ref}`, ref }],
        }),
      );
    await beat('web1', 'v1.0.0');
    await beat('web2', 'v1.0.0');
    await beat('web3', 'v0.9.0');
    await waitFor('three releases recorded', async () => (await ledger.releases({ app: 'shop', env: 'production' })).length === 3);
    const matrix = await ledger.matrix('shop', 'production');
    expect(matrix.commonRef).toBe('v1.0.0');
    expect(matrix.hosts.filter((h) => h.drift).map((h) => h.host)).toEqual(['web3']);

    // A rollout records web1's new release; web1 is then back on the old one (a rollback whose reply was
    // lost, a change by hand): the next heartbeat, the same as the one before the rollout, is written.
    await passBuild(w);
    const id = deploymentIdOf(await w.request({ targets: { hosts: ['web1'] } }));
    expect((await finished(w, id)).type).toBe('deploy.succeeded');
    await waitFor('the rollout recorded', async () => (await ledger.releases({ app: 'shop', env: 'production' })).find((r) => r.host === 'web1')?.ref === SHA);
    await beat('web1', 'v1.0.0');
    await waitFor('the heartbeat recorded over it', async () => (await ledger.releases({ app: 'shop', env: 'production' })).find((r) => r.host === 'web1')?.release === '20261122100000000-v1.0.0');
  });
});

