// The callback and chat routes end to end: web, conductor and notifier daemons on one in-memory bus,
// a real HTTP receiver on 127.0.0.1 for the callbacks, and real HTTP requests to the API.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon } from '@deploybus/runtime';
import { notifierDaemon } from '../../notifier/src/index.js';
import { CallbackReceiver } from '../../notifier/test/support/callback-receiver.js';
import { cleanUp, cleanups, finished, passBuild, SHA } from '../../conductor/test/support/conductor-world.js';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { webWorld, type WebWorld } from './support/web-world.js';

afterEach(cleanUp);

async function startNotifier(w: WebWorld): Promise<void> {
  const file = join(w.dir, 'notifier.json');
  await writeFile(
    file,
    JSON.stringify({
      logLevel: 'silent',
      host: 'notify1',
      bus: { url: w.busUrl },
      store: { url: `sqlite:${join(w.dir, 'notifier.db')}` },
      destinations: { hosts: ['127.0.0.1'], cidrs: ['127.0.0.1/32'], ports: 'any', schemes: ['http'] },
      delivery: { attempts: 2, backoffMs: 10, maxBackoffMs: 20, probeMs: 100, pollMs: 100 },
    }),
  );
  const handle = await startDaemon(notifierDaemon, { configFile: file, env: {} });
  cleanups.push(() => handle.stop());
}

async function receiver(): Promise<CallbackReceiver> {
  const r = new CallbackReceiver();
  await r.start();
  cleanups.push(() => r.stop());
  return r;
}

describe('web: callback subscriptions and chat', () => {
  it('subscribes a URL, deploys by chat command, and the URL gets the deploy signed; then lists, shows and deletes it', async () => {
    const w = await webWorld();
    await startNotifier(w);
    const r = await receiver();
    const created = await w.api('/api/subscriptions', { method: 'POST', body: { url: r.url(), events: ['deploy.*'], app: 'shop', description: 'the deploy room' } });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ url: r.url(), events: ['deploy.*'], app: 'shop', createdBy: 'ci-bot', state: 'active', description: 'the deploy room' });
    expect(created.body.secret).toMatch(/^whsec_/);
    r.secret = created.body.secret as string;
    const id = created.body.id as string;

    const listed = await w.api('/api/subscriptions');
    expect(listed.status).toBe(200);
    expect(listed.body.map((s: { id: string }) => s.id)).toEqual([id]);
    expect(listed.text).not.toContain(r.secret);

    await passBuild(w);
    const chat = await w.api('/api/chat', { method: 'POST', body: { text: `deploybot: deploy shop/${SHA} to production`, user: 'grace' } });
    expect(chat.status, chat.text).toBe(202);
    expect(chat.body).toMatchObject({ app: 'shop', env: 'production', ref: SHA, requestedBy: 'ci-bot', status: 'queued' });
    expect(chat.body.reply).toBe(`grace: deploying shop ${SHA} to production, starting now (${chat.body.deploymentId as string})`);
    await finished(w, chat.body.deploymentId as string);
    await waitFor('deploy.succeeded at the receiver', () => r.eventTypes().includes('deploy.succeeded'));
    expect(r.calls.every((c) => c.verified)).toBe(true);
    expect(r.eventTypes()[0]).toBe('deploy.queued');

    const shown = await w.api(`/api/subscriptions/${id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.cursor).toBeGreaterThan(0);
    expect((await w.api(`/api/subscriptions/${id}/enable`, { method: 'POST' })).status).toBe(202);
    const deleted = await w.api(`/api/subscriptions/${id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ id, deleted: true });
    const gone = await w.api(`/api/subscriptions/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('not_found');
  });

  it('answers bad subscriptions and chat commands with 400 naming the field, refusals with 409', async () => {
    const w = await webWorld();
    await startNotifier(w);
    const post = (body: unknown): ReturnType<WebWorld['api']> => w.api('/api/subscriptions', { method: 'POST', body });
    const privateUrl = await post({ url: 'http://10.0.0.1/hook', events: ['deploy.*'] });
    expect(privateUrl.status).toBe(400);
    expect(privateUrl.body.error).toMatchObject({ code: 'invalid_field', field: 'url' });
    expect(privateUrl.body.error.message).toMatch(/not in the allowed destinations|private/);
    const badPattern = await post({ url: 'http://127.0.0.1:9/hook', events: ['deploy.**'] });
    expect(badPattern.status).toBe(400);
    expect(badPattern.body.error.field).toBe('events.0');
    const unknownField = await post({ url: 'http://127.0.0.1:9/hook', events: ['*'], retries: 3 });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.field).toBe('retries');
    expect((await w.api('/api/subscriptions/not-an-id')).body.error).toMatchObject({ code: 'invalid_field', field: 'id' });

    const chat = (text: string): ReturnType<WebWorld['api']> => w.api('/api/chat', { method: 'POST', body: { text } });
    const nonsense = await chat('what is the weather');
    expect(nonsense.status).toBe(400);
    expect(nonsense.body.error).toMatchObject({ code: 'invalid_field', field: 'text' });
    expect(nonsense.body.error.message).toContain('deploy APP/REF to ENV');
    const noRef = await chat('deploy shop to production');
    expect(noRef.status).toBe(400);
    expect(noRef.body.error.message).toMatch(/name the ref/);
    const hostileRef = await chat('deploy shop/--upload-pack=touch to production');
    expect(hostileRef.status).toBe(400);
    expect(hostileRef.body.error.field).toBe('text');

    await passBuild(w);
    expect((await w.api('/api/locks', { method: 'POST', body: { env: 'production', reason: 'incident 311' } })).status).toBe(201);
    const locked = await chat(`deploy shop/${SHA} to production`);
    expect(locked.status).toBe(409);
    expect(locked.body.error.code).toBe('locked');
  });
});
