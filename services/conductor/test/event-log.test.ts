// The conductor's event log beyond its own deploy.* events: agents' task.started/completed are recorded
// (so callbacks and replays see a deploy's steps), and events older than `events.retentionMs` are pruned.
import { afterEach, describe, expect, it } from 'vitest';
import { isEventLogType } from '@deploybus/protocol';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cleanUp, deploymentIdOf, finished, passBuild, world } from './support/conductor-world.js';

afterEach(cleanUp);

describe('conductor event log', () => {
  it('records task.started and task.completed from agents, once each, with their deployment id', async () => {
    const w = await world();
    await w.start();
    const agent = w.client;
    const started = agent.message('task.started', { deploymentId: 'd-0123456789ab', app: 'shop', env: 'production', host: 'web1', step: 'checkout' });
    const completed = agent.message('task.completed', { deploymentId: 'd-0123456789ab', app: 'shop', env: 'production', host: 'web1', step: 'checkout', ok: true, durationMs: 12 });
    await agent.publish(started);
    await agent.publish(completed);
    await agent.publish(started); // a redelivery: stored once
    const ledger = await w.ledger();
    await waitFor('both task events in the event log', async () => (await ledger.eventsAfter(0, 100)).events.length >= 2);
    const events = (await ledger.eventsAfter(0, 100)).events;
    expect(events.map((e) => [e.id, e.type, e.deploymentId, e.app, e.env])).toEqual([
      [started.id, 'task.started', 'd-0123456789ab', 'shop', 'production'],
      [completed.id, 'task.completed', 'd-0123456789ab', 'shop', 'production'],
    ]);
  });

  it('records exactly the types the protocol marks as kept in the event log (what clients resume by)', async () => {
    const w = await world({ hosts: ['web1', 'web2'] });
    await w.start();
    await passBuild(w);
    const id = deploymentIdOf(await w.request({}));
    expect((await finished(w, id)).type).toBe('deploy.succeeded');
    await w.client.publish(w.client.message('task.started', { deploymentId: id, app: 'shop', env: 'production', host: 'web1', step: 'checkout' }));
    const ledger = await w.ledger();
    await waitFor('the task event in the log', async () => (await ledger.eventsAfter(0, 1000)).events.some((e) => e.type === 'task.started'));
    const recorded = new Set((await ledger.eventsAfter(0, 1000)).events.map((e) => e.type));
    expect([...recorded].filter((type) => !isEventLogType(type))).toEqual([]);
    expect(recorded).toEqual(new Set(['deploy.queued', 'deploy.started', 'deploy.batch', 'deploy.host-result', 'deploy.succeeded', 'task.started']));
    const published = new Set(w.events.map((e) => e.type).filter((type) => type !== 'deploy.requested'));
    expect([...published].filter((type) => !isEventLogType(type))).toEqual([]);
  });

  it('prunes events older than events.retentionMs at start', async () => {
    const w = await world();
    const ledger = await w.ledger();
    const old = new Date(Date.now() - 2 * 3_600_000);
    await ledger.appendEvents([
      { id: 'old-event', type: 'deploy.queued', time: old, payload: {} },
      { id: 'new-event', type: 'deploy.queued', time: new Date(), payload: {} },
    ]);
    await w.start({ events: { retentionMs: 3_600_000 } });
    await waitFor('the old event pruned', async () => !(await ledger.eventsAfter(0, 100)).events.some((e) => e.id === 'old-event'));
    expect((await ledger.eventsAfter(0, 100)).events.map((e) => e.id)).toEqual(['new-event']);
  });
});
