// The web API end to end on the in-memory bus: the real web and conductor daemons, a fake keepalive
// and fake agents (services/conductor/test/support/conductor-world.ts), real HTTP on 127.0.0.1.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, finished, passBuild, SHA } from '../../conductor/test/support/conductor-world.js';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { webWorld } from './support/web-world.js';

afterEach(cleanUp);

describe('web: auth', () => {
  it('refuses /api without credentials (401), with a bad token (401), and a forged session (401)', async () => {
    const w = await webWorld();
    const none = await w.api('/api/apps', { auth: 'none' });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthenticated');
    const bad = await w.api('/api/apps', { auth: { authorization: 'Bearer not-a-token' } });
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toContain('bearer token');
    const { cookie } = await w.signIn();
    const [name, value] = cookie.split('=') as [string, string];
    const [version, body] = value.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ u: 'ada', e: Date.now() + 1e9, n: 'x' })).toString('base64url');
    for (const forged of [`${name}=${version}.${forgedBody}.${value.split('.')[2]}`, `${name}=${version}.${body}.AAAA`, `${name}=garbage`]) {
      const answer = await w.api('/api/session', { auth: { cookie: forged } });
      expect(answer.status, forged).toBe(401);
    }
  });

  it('signs in with the form; the session needs the CSRF token for changes (403 without, 403 wrong)', async () => {
    const w = await webWorld();
    const session = await w.signIn();
    const me = await w.api('/api/session', { auth: { cookie: session.cookie } });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: 'ada', csrfToken: session.csrfToken });
    const body = { env: 'production', reason: 'freeze' };
    const without = await w.api('/api/locks', { method: 'POST', body, auth: { cookie: session.cookie } });
    expect(without.status).toBe(403);
    expect(without.body.error.code).toBe('csrf_failed');
    const wrong = await w.api('/api/locks', { method: 'POST', body, auth: { cookie: session.cookie, csrfToken: 'nope' } });
    expect(wrong.status).toBe(403);
    const right = await w.api('/api/locks', { method: 'POST', body, auth: session });
    expect(right.status).toBe(201);
    expect(right.body).toMatchObject({ env: 'production', by: 'ada', reason: 'freeze' });
  });
});

describe('web: deploys', () => {
  it('deploys through the API: 202 queued, recorded as the token name, finishes; history shows it', async () => {
    const w = await webWorld();
    await passBuild(w);
    const answer = await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA, batchSize: 1 } });
    expect(answer.status, answer.text).toBe(202);
    expect(answer.body).toMatchObject({ app: 'shop', env: 'production', ref: SHA, status: 'queued', requestedBy: 'ci-bot' });
    expect((await finished(w, answer.body.deploymentId)).type).toBe('deploy.succeeded');
    await waitFor('history shows the deploy succeeded', async () => {
      const history = await w.api('/api/deploys?app=shop&env=production');
      return history.body[0]?.deploymentId === answer.body.deploymentId && history.body[0]?.state === 'succeeded';
    });
  });

  it('names the bad field (400)', async () => {
    const w = await webWorld();
    const bad = await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: '--upload-pack=evil' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_field', field: 'ref' });
  });
});
