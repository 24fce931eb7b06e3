// The event stream: JSON pages from the conductor's ledger, and server-sent events live from the bus
// with replay from a cursor (after= or Last-Event-ID) first, heartbeats, and cleanup on disconnect.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, finished, passBuild, SHA } from '../../conductor/test/support/conductor-world.js';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { TOKEN, webWorld, type WebWorld } from './support/web-world.js';

afterEach(cleanUp);

interface SseEvent {
  readonly event: string | undefined;
  readonly id: string | undefined;
  readonly data: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of many shapes
}

interface Stream {
  readonly status: number;
  readonly contentType: string | null;
  readonly events: SseEvent[];
  readonly comments: string[];
  close(): void;
}

async function openStream(w: WebWorld, query: string, headers: Record<string, string> = {}): Promise<Stream> {
  const abort = new AbortController();
  const response = await fetch(`${w.url}/api/events${query}`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${TOKEN}`, ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const reader = response.body?.getReader();
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (chunk === undefined || chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            const colon = line.indexOf(': ');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
          }
          const data = fields.get('data');
          if (data !== undefined) events.push({ event: fields.get('event'), id: fields.get('id'), data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { status: response.status, contentType: response.headers.get('content-type'), events, comments, close: () => abort.abort() };
}

const liveClients = async (w: WebWorld): Promise<number> => (await w.api('/healthz', { auth: 'none' })).body.liveClients as number;

describe('web: live events (SSE)', () => {
  it('delivers a deploy\'s events live, typed, filtered; heartbeats; cleans up when the client goes', async () => {
    const w = await webWorld({ webConfig: { sseHeartbeatMs: 100 } });
    await passBuild(w);
    const all = await openStream(w, '?types=deploy.*');
    const tasksOnly = await openStream(w, '?types=task.*');
    expect(all.status).toBe(200);
    expect(all.contentType).toContain('text/event-stream');
    await waitFor('both streams listening', async () => (await liveClients(w)) === 2);
    const answer = await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } });
    const id = answer.body.deploymentId as string;
    await waitFor('deploy.succeeded on the stream', () => all.events.some((e) => e.event === 'deploy.succeeded' && e.data.payload.deploymentId === id));
    const mine = all.events.filter((e) => e.data.payload?.deploymentId === id).map((e) => e.event);
    expect(mine[0]).toBe('deploy.queued');
    expect(mine).toContain('deploy.started');
    expect(mine).toContain('deploy.host-result');
    expect(mine.at(-1)).toBe('deploy.succeeded');
    const frame = all.events.find((e) => e.event === 'deploy.succeeded');
    expect(frame?.id).toBe(frame?.data.id);
    expect(frame?.data).toMatchObject({ type: 'deploy.succeeded', payload: { app: 'shop', env: 'production', deploymentId: id } });
    expect(typeof frame?.data.time).toBe('string');
    expect(tasksOnly.events.filter((e) => !e.event?.startsWith('task.'))).toEqual([]);
    await waitFor('a heartbeat comment', () => all.comments.some((c) => c.startsWith(': keepalive')));

    // Filtered by deployment, app and env on the server: only what the payload names.
    const one = await openStream(w, `?deploymentId=${'d'.repeat(8)}`);
    const otherApp = await openStream(w, '?app=blog');
    const otherEnv = await openStream(w, '?app=shop&env=staging');
    const place = await openStream(w, '?app=shop&env=production&types=deploy.*');
    await waitFor('six streams', async () => (await liveClients(w)) === 6);
    const next = (await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } })).body.deploymentId as string;
    await finished(w, next);
    await waitFor('the deploy on the app/env stream', () => place.events.some((e) => e.event === 'deploy.succeeded' && e.data.payload.deploymentId === next));
    expect(place.events.every((e) => e.data.payload.app === 'shop' && e.data.payload.env === 'production')).toBe(true);
    expect(one.events).toEqual([]);
    expect(otherApp.events).toEqual([]);
    expect(otherEnv.events).toEqual([]);

    for (const s of [all, tasksOnly, one, otherApp, otherEnv, place]) s.close();
    await waitFor('every stream cleaned up', async () => (await liveClients(w)) === 0);
  });

  it('refuses streams past sseMaxClients with 503', async () => {
    const w = await webWorld({ webConfig: { sseMaxClients: 1 } });
    const first = await openStream(w, '');
    await waitFor('one stream', async () => (await liveClients(w)) === 1);
    const second = await w.api('/api/events', { headers: { accept: 'text/event-stream' } });
    expect(second.status).toBe(503);
    expect(second.body.error.code).toBe('too_many_streams');
    first.close();
    await waitFor('no stream', async () => (await liveClients(w)) === 0);
    const third = await openStream(w, '');
    expect(third.status).toBe(200);
    third.close();
  });

  it('replays from the ledger first (after= or Last-Event-ID), then goes live without repeats', async () => {
    const w = await webWorld();
    await passBuild(w);
    const first = (await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } })).body.deploymentId as string;
    await finished(w, first);
    await waitFor('the deploy in the event log', async () => (await w.api(`/api/events?after=0&deploymentId=${first}&types=deploy.succeeded`)).body.events.length === 1);

    const replay = await openStream(w, `?after=0&deploymentId=${first}`);
    await waitFor('the replay reaches deploy.succeeded', () => replay.events.some((e) => e.event === 'deploy.succeeded'));
    expect(replay.events.every((e) => /^\d+$/.test(e.id ?? ''))).toBe(true);
    const seqs = replay.events.map((e) => Number(e.id));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(replay.events[0]?.event).toBe('deploy.queued');
    replay.close();

    // Resuming after the queued event: everything but it.
    const queuedSeq = replay.events[0]?.id ?? '';
    const resumed = await openStream(w, `?deploymentId=${first}`, { 'last-event-id': queuedSeq });
    await waitFor('the resumed replay reaches deploy.succeeded', () => resumed.events.some((e) => e.event === 'deploy.succeeded'));
    expect(resumed.events.map((e) => e.id)).toEqual(replay.events.slice(1).map((e) => e.id));
    resumed.close();

    // After the replay, live events follow.
    const live = await openStream(w, '?after=0&types=deploy.succeeded');
    await waitFor('the replayed success', () => live.events.length === 1);
    const second = (await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } })).body.deploymentId as string;
    await waitFor('the live success', () => live.events.some((e) => e.data.payload.deploymentId === second));
    expect(live.events.map((e) => e.data.payload.deploymentId)).toEqual([first, second]);
    live.close();
  });

  it('resumes from a live event\'s message id: a client that drops mid-stream gets exactly the recorded events it missed, once, then live ones', async () => {
    const w = await webWorld();
    await passBuild(w);
    const deploy = async (): Promise<string> => (await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } })).body.deploymentId as string;
    const first = await openStream(w, '?types=deploy.*,task.*');
    await waitFor('the stream listening', async () => (await liveClients(w)) === 1);
    const one = await deploy();
    await waitFor('the first deploy\'s success, live', () => first.events.some((e) => e.event === 'deploy.succeeded' && e.data.payload.deploymentId === one));
    // Live events carry message ids, not seqs; events the ledger never records (deploy.requested, task.log) carry none.
    expect(first.events.every((e) => e.id === undefined || !/^\d+$/.test(e.id))).toBe(true);
    expect(first.events.filter((e) => e.event === 'task.log' || e.event === 'deploy.requested').every((e) => e.id === undefined)).toBe(true);
    // What a client's Last-Event-ID is: the last id the stream sent (it carries over frames without one).
    const lastId = first.events.map((e) => e.id).filter((id) => id !== undefined).at(-1) ?? '';
    expect(lastId).toBe(first.events.find((e) => e.event === 'deploy.succeeded')?.data.id);
    first.close();
    await waitFor('the stream gone', async () => (await liveClients(w)) === 0);

    // While it is away: a whole deploy happens.
    const two = await deploy();
    await finished(w, two);
    await waitFor('the missed deploy in the event log', async () => (await w.api(`/api/events?after=0&deploymentId=${two}&types=deploy.succeeded`)).body.events.length === 1);
    const recorded = (await w.api(`/api/events?afterId=${encodeURIComponent(lastId)}&types=deploy.*,task.*&limit=1000`)).body.events as Array<{ id: string; type: string; deploymentId: string }>;
    expect(recorded.length).toBeGreaterThan(2);
    expect(recorded.every((e) => e.deploymentId === two)).toBe(true);

    const resumed = await openStream(w, '?types=deploy.*,task.*', { 'last-event-id': lastId });
    await waitFor('the missed deploy.succeeded', () => resumed.events.some((e) => e.event === 'deploy.succeeded'));
    expect(resumed.events.map((e) => e.data.id)).toEqual(recorded.map((e) => e.id));
    expect(resumed.events.every((e) => /^\d+$/.test(e.id ?? ''))).toBe(true);
    // Then live, each once.
    const three = await deploy();
    await waitFor('the next deploy live', () => resumed.events.some((e) => e.event === 'deploy.succeeded' && e.data.payload.deploymentId === three));
    const ids = resumed.events.map((e) => e.data.id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(resumed.events.some((e) => e.data.payload?.deploymentId === one)).toBe(false);
    resumed.close();

    // An id the ledger does not hold: the stream says so (naming afterId) and goes live; the JSON form is a 400.
    const unknown = await openStream(w, '?types=deploy.*', { 'last-event-id': 'no-such-event-0001' });
    await waitFor('replay-failed', () => unknown.events.some((e) => e.event === 'replay-failed'));
    expect(unknown.events.find((e) => e.event === 'replay-failed')?.data).toMatchObject({ code: 'invalid_field', field: 'afterId' });
    unknown.close();
    const bad = await w.api('/api/events?afterId=no-such-event-0001');
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('afterId');
    expect((await w.api('/api/events?after=1&afterId=no-such-event-0001')).body.error.field).toBe('afterId');
    const garbage = await w.api('/api/events', { headers: { accept: 'text/event-stream', 'last-event-id': 'has spaces in it' } });
    expect(garbage.status).toBe(400);
    expect(garbage.body.error.field).toBe('Last-Event-ID');
  });

  it('a replay longer than 20 pages says so (replay_too_long, naming where to read on) instead of skipping to live events', async () => {
    const w = await webWorld({ hosts: ['web1'] });
    await passBuild(w);
    for (let i = 0; i < 5; i += 1) {
      const id = (await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } })).body.deploymentId as string;
      await finished(w, id);
    }
    const recorded = (await w.api('/api/events?after=0&types=deploy.*,task.*&limit=1000')).body.events as Array<{ seq: number }>;
    expect(recorded.length).toBeGreaterThan(20);
    // One event per replay page: 20 pages replay 20 events, and the rest are not silently skipped.
    const behind = await openStream(w, '?after=0&limit=1&types=deploy.*,task.*');
    await waitFor('replay-failed', () => behind.events.some((e) => e.event === 'replay-failed'));
    const failedAt = behind.events.findIndex((e) => e.event === 'replay-failed');
    expect(failedAt).toBe(20);
    const cursor = recorded[19]?.seq;
    expect(behind.events[failedAt]?.data).toMatchObject({ code: 'replay_too_long' });
    expect((behind.events[failedAt]?.data as { message: string }).message).toContain(`GET /api/events?after=${cursor}`);
    behind.close();
  });

  it('GET /api/events as JSON: pages with a cursor, filtered by type', async () => {
    const w = await webWorld();
    await passBuild(w);
    const id = (await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } })).body.deploymentId as string;
    await finished(w, id);
    await waitFor('the success in the event log', async () => (await w.api('/api/events?after=0&types=deploy.succeeded')).body.events.length === 1);
    const page = await w.api('/api/events?after=0&types=deploy.queued,deploy.succeeded&limit=10');
    expect(page.status).toBe(200);
    expect(page.body.events.map((e: { type: string }) => e.type)).toEqual(['deploy.queued', 'deploy.succeeded']);
    expect(page.body.events[1]).toMatchObject({ deploymentId: id, app: 'shop', env: 'production', payload: { deploymentId: id } });
    expect(page.body.cursor).toBe(page.body.events[1].seq);
    const next = await w.api(`/api/events?after=${page.body.cursor}&types=deploy.*`);
    expect(next.body).toEqual({ events: [], cursor: page.body.cursor });
    expect((await w.api('/api/events?after=0&app=blog')).body.events).toEqual([]);
    expect((await w.api('/api/events?after=0&app=shop&env=production&types=deploy.succeeded')).body.events).toHaveLength(1);
    const oneAtATime = await w.api('/api/events?after=0&limit=1');
    expect(oneAtATime.body.events).toHaveLength(1);
  });
});
