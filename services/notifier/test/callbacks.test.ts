// HTTP callbacks end to end on the in-memory bus: the real conductor daemon runs deploys through fake
// agents, the notifier daemon delivers the conductor's event log to real HTTP receivers on 127.0.0.1.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cleanUp, cleanups, deploymentIdOf, finished, passBuild } from '../../conductor/test/support/conductor-world.js';
import { CallbackReceiver } from './support/callback-receiver.js';
import { notifierWorld, type NotifierWorld } from './support/notifier-world.js';

afterEach(cleanUp);

async function receiver(): Promise<CallbackReceiver> {
  const r = new CallbackReceiver();
  await r.start();
  cleanups.push(() => r.stop());
  return r;
}

async function subscribe(w: NotifierWorld, r: CallbackReceiver, events: string[] = ['deploy.*']): Promise<string> {
  const answer = await w.subscriptions({ action: 'create', url: r.url(), events, app: 'shop', secret: 'test-secret-0123456789' });
  expect(answer).toMatchObject({ outcome: 'created', subscription: { url: r.url(), events, app: 'shop', state: 'active', createdBy: 'ada' } });
  expect(answer.secret).toBeUndefined(); // given, so not echoed
  r.secret = 'test-secret-0123456789';
  const id = answer.subscription?.id;
  if (id === undefined) throw new Error('no subscription id');
  return id;
}

/** The ledger's events (ids, in seq order) of one deployment, narrowed to types starting with one of `prefixes`. */
async function ledgerEventIds(w: NotifierWorld, deploymentId: string, prefixes: string[]): Promise<string[]> {
  const ledger = await w.ledger();
  // The conductor publishes an event, then records it: wait for the deploy's last one in the ledger.
  const ended = async (): Promise<boolean> => (await ledger.eventsAfter(0, 1000)).events.some((e) => e.deploymentId === deploymentId && ['deploy.succeeded', 'deploy.failed', 'deploy.cancelled'].includes(e.type));
  await waitFor(`deployment ${deploymentId} ended in the ledger`, ended);
  const events = (await ledger.eventsAfter(0, 1000)).events;
  return events.filter((e) => e.deploymentId === deploymentId && prefixes.some((p) => e.type.startsWith(p))).map((e) => e.id);
}

describe('HTTP callbacks', () => {
  it('delivers every matching event of a deploy, signed, in the order of the event log', async () => {
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier();
    const r = await receiver();
    const subscriptionId = await subscribe(w, r, ['deploy.*', 'task.completed']);
    await passBuild(w);
    const deploymentId = deploymentIdOf(await w.request({}));
    expect((await finished(w, deploymentId)).type).toBe('deploy.succeeded');
    // An agent's step event (the fake agents send none): recorded by the conductor and delivered too.
    await w.client.publish(w.client.message('task.completed', { deploymentId, app: 'shop', env: 'production', host: 'web1', step: 'post-deploy', ok: true, durationMs: 5 }));
    await waitFor('the task.completed callback', () => r.eventTypes().includes('task.completed'));

    const expected = await ledgerEventIds(w, deploymentId, ['deploy.', 'task.completed']);
    expect(expected.length).toBe(10);
    expect(r.eventIds()).toEqual(expected);
    expect(r.eventTypes()).toEqual(['deploy.queued', 'deploy.started', 'deploy.batch', 'deploy.host-result', 'deploy.batch', 'deploy.host-result', 'deploy.batch', 'deploy.host-result', 'deploy.succeeded', 'task.completed']);
    expect(r.calls.every((c) => c.verified)).toBe(true);
    const seqs = r.calls.map((c) => Number(c.headers['x-deploybus-event-seq']));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const last = r.calls.at(-2);
    expect(last?.headers['content-type']).toBe('application/json');
    expect(last?.headers['x-deploybus-subscription']).toBe(subscriptionId);
    expect(last?.json).toMatchObject({ type: 'deploy.succeeded', deploymentId, app: 'shop', env: 'production', subscription: subscriptionId, payload: { deploymentId, succeededHosts: ['web1', 'web2', 'web3'] } });

    // A signature over a different body does not verify: the receiver's check means something.
    const tampered = { ...r.calls[0], body: (r.calls[0]?.body ?? '').replace('deploy.queued', 'deploy.succeeded') };
    const { verifyCallback } = await import('../src/index.js');
    expect(verifyCallback(r.secret, tampered.body, String(tampered.headers?.['x-deploybus-timestamp']), String(tampered.headers?.['x-deploybus-signature']))).toBe(false);
  });

  it('a receiver that was down gets everything it missed, exactly once by event id, in order, when it is back', async () => {
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier();
    const r = await receiver();
    const subscriptionId = await subscribe(w, r);
    await r.stop();
    await passBuild(w);

    const first = deploymentIdOf(await w.request({}));
    await finished(w, first);
    await waitFor('the subscription marked failing', async () => (await w.subscriptions({ action: 'get', id: subscriptionId })).subscription?.state === 'failing');
    const failing = await w.subscriptions({ action: 'get', id: subscriptionId });
    expect(failing.subscription?.lastError).toMatch(/ECONNREFUSED/);
    const second = deploymentIdOf(await w.request({}));
    await finished(w, second);

    // Also across a restart of the notifier: the position is stored, not kept in memory.
    await w.notifier?.stop();
    await w.startNotifier();
    await r.start();
    const expected = [...(await ledgerEventIds(w, first, ['deploy.'])), ...(await ledgerEventIds(w, second, ['deploy.']))];
    await waitFor('every missed event delivered', () => r.calls.length >= expected.length);
    await waitFor('the subscription active again', async () => (await w.subscriptions({ action: 'get', id: subscriptionId })).subscription?.state === 'active');
    expect(r.eventIds()).toEqual(expected);
    expect(new Set(r.eventIds()).size).toBe(r.calls.length);
    expect(r.calls.every((c) => c.verified)).toBe(true);
  });

  it('a receiver that never answers delays neither a deploy nor another subscriber', async () => {
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier({ delivery: { timeoutMs: 120_000, attempts: 1, pollMs: 100 } });
    const hanging = await receiver();
    hanging.mode = 'hang';
    const healthy = await receiver();
    await subscribe(w, hanging);
    await subscribe(w, healthy);
    await passBuild(w);
    const deploymentId = deploymentIdOf(await w.request({}));
    expect((await finished(w, deploymentId)).type).toBe('deploy.succeeded');
    await waitFor('the healthy receiver got the whole deploy', () => healthy.eventTypes().includes('deploy.succeeded'));
    // The deploy and the other subscriber finished while the first callback was (and is) held open.
    await waitFor('the hanging receiver holding the first callback', () => hanging.hanging.length === 1);
    expect(hanging.hanging.length).toBe(1);
    expect(hanging.calls).toEqual([]);
    expect(healthy.eventIds()).toEqual(await ledgerEventIds(w, deploymentId, ['deploy.']));
  });

  it('refuses bad subscriptions with an error naming the field', async () => {
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier({ destinations: { hosts: ['*.example.com', 'localhost', '10.0.0.5'], cidrs: [], ports: [443, 8443], schemes: ['https'] } });
    const refused = async (payload: Parameters<NotifierWorld['subscriptions']>[0]): Promise<{ field: string | undefined; error: string | undefined }> => {
      const answer = await w.subscriptions(payload);
      expect(answer.outcome).toBe('refused');
      return { field: answer.field, error: answer.error };
    };
    const ok = { action: 'create', url: 'https://hooks.example.com/deploybus', events: ['deploy.*'] };
    expect(await refused({ ...ok, url: 'https://10.0.0.5/hook' })).toMatchObject({ field: 'url', error: expect.stringMatching(/10\.0\.0\.5 is a private/) });
    expect(await refused({ ...ok, url: 'https://localhost:8443/hook' })).toMatchObject({ field: 'url', error: expect.stringMatching(/(127\.0\.0\.1|::1) is a private, loopback/) });
    expect(await refused({ ...ok, url: 'https://169.254.169.254/latest/meta-data' })).toMatchObject({ field: 'url', error: expect.stringMatching(/not in the allowed destinations/) });
    expect(await refused({ ...ok, url: 'https://evil.example.org/' })).toMatchObject({ field: 'url', error: expect.stringMatching(/host evil\.example\.org is not in the allowed/) });
    expect(await refused({ ...ok, url: 'http://hooks.example.com/' })).toMatchObject({ field: 'url', error: expect.stringMatching(/scheme http is not allowed/) });
    expect(await refused({ ...ok, url: 'https://hooks.example.com:8080/' })).toMatchObject({ field: 'url', error: expect.stringMatching(/port 8080 is not allowed/) });
    expect(await refused({ ...ok, url: 'https://bot:pw@hooks.example.com/' })).toMatchObject({ field: 'url', error: expect.stringMatching(/credentials/) });
    expect(await refused({ ...ok, url: 'not a url' })).toMatchObject({ field: 'url' });
    expect(await refused({ ...ok, url: undefined })).toMatchObject({ field: 'url', error: expect.stringMatching(/required/) });
    expect(await refused({ ...ok, events: ['deploy.**'] })).toMatchObject({ field: 'events.0', error: expect.stringMatching(/prefix/) });
    expect(await refused({ ...ok, events: [] })).toMatchObject({ field: 'events' });
    expect(await refused({ ...ok, secret: 'short' })).toMatchObject({ field: 'secret', error: expect.stringMatching(/16 to 256/) });
    expect(await refused({ ...ok, app: '../etc' })).toMatchObject({ field: 'app' });
    expect(await refused({ action: 'explode' })).toMatchObject({ field: 'action' });
    expect(await refused({ action: 'delete', id: '1; drop table' })).toMatchObject({ field: 'id' });
    expect((await w.subscriptions({ action: 'list' })).subscriptions).toEqual([]);
    // Nothing was stored; a missing one is not found.
    expect(await w.subscriptions({ action: 'get', id: 'sub-0000000000000000' })).toMatchObject({ outcome: 'not-found', field: 'id' });
  });

  it('lists, shows and deletes subscriptions; a generated secret is shown once; a deleted one gets nothing more', async () => {
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier();
    const r = await receiver();
    const created = await w.subscriptions({ action: 'create', url: r.url(), events: ['deploy.queued'], description: 'chat room' });
    expect(created.secret).toMatch(/^whsec_/);
    r.secret = created.secret ?? '';
    const id = created.subscription?.id ?? '';
    const listed = await w.subscriptions({ action: 'list' });
    expect(listed.subscriptions?.map((s) => [s.id, s.description])).toEqual([[id, 'chat room']]);
    expect(JSON.stringify(listed)).not.toContain(r.secret);
    await passBuild(w);
    const firstId = deploymentIdOf(await w.request({}));
    await waitFor('the first deploy.queued delivered', () => r.calls.length === 1);
    expect(r.calls[0]?.verified).toBe(true);
    expect(r.calls[0]?.json).toMatchObject({ type: 'deploy.queued', deploymentId: firstId });
    await finished(w, firstId);
    expect(await w.subscriptions({ action: 'delete', id })).toMatchObject({ outcome: 'deleted', subscription: { id } });
    expect(await w.subscriptions({ action: 'get', id })).toMatchObject({ outcome: 'not-found' });
    const second = deploymentIdOf(await w.request({}));
    await finished(w, second);
    // The next poll has come and gone (pollMs 100) with nothing for a deleted subscription.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(r.calls.length).toBe(1);
  });
});

describe('HTTP callbacks with two notifiers on one store', () => {
  it('delivers each event once: one notifier delivers, the other stands by and takes over when it stops', async () => {
    const w = await notifierWorld();
    await w.start();
    const delivery = { attempts: 2, backoffMs: 10, maxBackoffMs: 20, probeMs: 100, pollMs: 50, timeoutMs: 5_000, leaseTtlMs: 300 };
    const first = await w.startNotifier({ delivery });
    await w.startNotifier({ host: 'notify2', delivery });
    const r = await receiver();
    // Made through whichever notifier takes the request; the other learns of it from the store.
    await subscribe(w, r);
    await passBuild(w);
    const one = deploymentIdOf(await w.request({}));
    await finished(w, one);
    const expectedOne = await ledgerEventIds(w, one, ['deploy.']);
    await waitFor('the first deploy delivered', () => r.calls.length >= expectedOne.length);

    await first.stop();
    const two = deploymentIdOf(await w.request({}));
    await finished(w, two);
    const expected = [...expectedOne, ...(await ledgerEventIds(w, two, ['deploy.']))];
    await waitFor('the second deploy delivered by the other notifier', () => r.calls.length >= expected.length);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.eventIds()).toEqual(expected);
    expect(r.calls.every((c) => c.verified)).toBe(true);
  });
});

describe('notifier metrics', () => {
  it('counts attempts and destinations by kind and state on /metrics', async () => {
    const w = await notifierWorld();
    await w.start();
    const notifier = await w.startNotifier({ health: { port: 0 } });
    const r = await receiver();
    await subscribe(w, r);
    await passBuild(w);
    await finished(w, deploymentIdOf(await w.request({})));
    await waitFor('deploy.succeeded delivered', () => r.eventTypes().includes('deploy.succeeded'));
    const text = await (await fetch(`http://127.0.0.1:${notifier.health?.port ?? 0}/metrics`)).text();
    expect(text).toContain(`deploybus_notifier_attempts_total{kind="webhook",outcome="delivered",service="notifier"} ${r.calls.length}`);
    expect(text).toContain('deploybus_notifier_destinations{kind="webhook",state="active",service="notifier"} 1');
    expect(text).toMatch(/^deploybus_notifier_delivering(\{service="notifier"\})? 1$/m);
  });
});

describe('HTTP callbacks without a conductor', () => {
  it('starts (configured notifiers included), answers a create with unavailable, and works once a conductor is there', async () => {
    const w = await notifierWorld();
    await w.startNotifier({ eventLog: { timeoutMs: 200 }, slack: [{ name: 'ops', webhookUrl: { env: 'SLACK_URL' } }] }, { SLACK_URL: 'http://127.0.0.1:9/never-called' });
    const r = await receiver();
    const answer = await w.subscriptions({ action: 'create', url: r.url(), events: ['deploy.*'] });
    expect(answer.outcome).toBe('unavailable');
    expect(answer.error).toMatch(/no conductor answered within 200 ms; try again/);
    await w.start();
    expect((await w.subscriptions({ action: 'create', url: r.url(), events: ['deploy.*'] })).outcome).toBe('created');
  });
});

describe('HTTP callbacks for a filter that matches nothing', () => {
  it('moves the cursor past events that do not match, without delivering any', async () => {
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier();
    const r = await receiver();
    const created = await w.subscriptions({ action: 'create', url: r.url(), events: ['deploy.*'], app: 'other' });
    const id = created.subscription?.id ?? '';
    const start = created.subscription?.cursor ?? -1;
    await passBuild(w);
    const deploymentId = deploymentIdOf(await w.request({}));
    await finished(w, deploymentId);
    const last = (await ledgerEventIds(w, deploymentId, ['deploy.'])).length;
    expect(last).toBeGreaterThan(0);
    await waitFor('the cursor past the deploy', async () => ((await w.subscriptions({ action: 'get', id })).subscription?.cursor ?? 0) > start + last - 1);
    expect(r.calls).toEqual([]);
  });
});
