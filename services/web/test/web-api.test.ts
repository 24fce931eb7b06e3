// The web API end to end on the in-memory bus: the real web and conductor daemons, a fake keepalive
// and fake agents (services/conductor/test/support/conductor-world.ts), real HTTP on 127.0.0.1.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, cleanups, finished, OTHER_SHA, passBuild, SHA } from '../../conductor/test/support/conductor-world.js';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { loadOpenApi } from '../src/index.js';
import { gitRepoWithTags, TOKEN, webWorld, type WebWorld } from './support/web-world.js';

afterEach(cleanUp);

async function deploy(w: WebWorld, body: Record<string, unknown> = {}): Promise<string> {
  const answer = await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA, ...body } });
  expect(answer.status, answer.text).toBe(202);
  return answer.body.deploymentId as string;
}

describe('web: auth', () => {
  it('refuses /api without credentials, with a bad token, a malformed header and a forged or altered session (401)', async () => {
    const w = await webWorld();
    const none = await w.api('/api/apps', { auth: 'none' });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthenticated');
    expect(none.body.error.message).toContain('/login');
    const bad = await w.api('/api/apps', { auth: { authorization: 'Bearer not-a-token' } });
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toContain('bearer token');
    const basic = await w.api('/api/apps', { auth: { authorization: 'Basic YWRhOnB3' } });
    expect(basic.status).toBe(401);
    expect(basic.body.error.message).toContain('Bearer');

    const { cookie } = await w.signIn();
    const [name, value] = cookie.split('=') as [string, string];
    const [version, body, signature] = value.split('.') as [string, string, string];
    const forgedBody = Buffer.from(JSON.stringify({ u: 'ada', e: Date.now() + 1e9, n: 'x' })).toString('base64url');
    for (const forged of [`${version}.${forgedBody}.${signature}`, `${version}.${body}.${signature.slice(0, -2)}AA`, 'garbage', `v2.${body}.${signature}`]) {
      const answer = await w.api('/api/session', { auth: { cookie: `${name}=${forged}` } });
      expect(answer.status, forged).toBe(401);
      expect(answer.body.error.code).toBe('unauthenticated');
    }
    expect((await w.api('/api/session', { auth: { cookie } })).status).toBe(200);
  });

  it('a session needs the CSRF token on changes (403 without or wrong); a bearer token needs none', async () => {
    const w = await webWorld();
    const session = await w.signIn();
    const me = await w.api('/api/session', { auth: { cookie: session.cookie } });
    expect(me.body).toMatchObject({ user: 'ada', via: 'session', csrfToken: session.csrfToken });
    const body = { env: 'production', reason: 'freeze' };
    const without = await w.api('/api/locks', { method: 'POST', body, auth: { cookie: session.cookie } });
    expect(without.status).toBe(403);
    expect(without.body.error.code).toBe('csrf_failed');
    const wrong = await w.api('/api/locks', { method: 'POST', body, auth: { cookie: session.cookie, csrfToken: `${session.csrfToken}x` } });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('csrf_failed');
    // Another session's token does not fit this one.
    const other = await w.signIn();
    expect(other.csrfToken).not.toBe(session.csrfToken);
    expect((await w.api('/api/locks', { method: 'POST', body, auth: { cookie: session.cookie, csrfToken: other.csrfToken } })).status).toBe(403);
    const right = await w.api('/api/locks', { method: 'POST', body, auth: session });
    expect(right.status, right.text).toBe(201);
    expect(right.body).toMatchObject({ env: 'production', by: 'ada', reason: 'freeze' });
    const token = await w.api('/api/session');
    expect(token.body).toEqual({ user: 'ci-bot', via: 'token', csrfToken: null });
  });
});

describe('web: deploys', () => {
  it('deploys: 202 queued as the token name, finishes; history, the deployment with hosts, the queue and the matrix show it', async () => {
    const w = await webWorld();
    await passBuild(w);
    const answer = await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA, hosts: ['web1', 'web2'], batchSize: '50%', canary: 0 } });
    expect(answer.status, answer.text).toBe(202);
    expect(answer.body).toMatchObject({ app: 'shop', env: 'production', ref: SHA, sha: SHA, status: 'queued', requestedBy: 'ci-bot', position: 0 });
    const id = answer.body.deploymentId as string;
    expect(answer.headers.get('location')).toBe(`/api/deploys/${id}`);
    expect((await finished(w, id)).type).toBe('deploy.succeeded');
    await waitFor('history shows the deploy succeeded', async () => {
      const history = await w.api('/api/deploys?app=shop&env=production&limit=5');
      return history.body[0]?.deploymentId === id && history.body[0]?.state === 'succeeded';
    });
    const history = await w.api('/api/deploys?app=shop&env=production');
    expect(history.body[0]).toMatchObject({ deploymentId: id, requestedBy: 'ci-bot', ref: SHA, sha: SHA, state: 'succeeded', reason: null });
    expect(typeof history.body[0].durationMs).toBe('number');
    const one = await w.api(`/api/deploys/${id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ deploymentId: id, state: 'succeeded' });
    expect(one.body.hosts.map((h: { host: string; outcome: string }) => [h.host, h.outcome]).sort()).toEqual([['web1', 'succeeded'], ['web2', 'succeeded']]);
    expect((await w.api('/api/queue?app=shop')).body).toEqual([]);
    await waitFor('the matrix shows both hosts', async () => (await w.api('/api/matrix?app=shop&env=production')).body.hosts?.length === 2);
    const matrix = await w.api('/api/matrix?app=shop&env=production');
    expect(matrix.body).toMatchObject({ app: 'shop', env: 'production', lastDeployedRef: SHA });
    expect((await w.api('/api/deploys/d-does-not-exist')).status).toBe(404);
  });

  it('logs: offset/limit, a host, and the tail', async () => {
    const w = await webWorld();
    await passBuild(w);
    const id = await deploy(w);
    await finished(w, id);
    const lines = (from: number, n: number, host: string) =>
      Array.from({ length: n }, (_, i) => ({ stream: 'stdout' as const, text: `${host} line ${from + i}`, at: new Date().toISOString() }));
    for (const [seq, host] of [[0, 'web1'], [1, 'web1'], [0, 'web2']] as const) {
      await w.client.publish(w.client.message('task.log', { deploymentId: id, app: 'shop', env: 'production', host, step: 'restart', seq, lines: lines(seq * 3, 3, host) }));
    }
    await waitFor('9 log lines recorded', async () => (await w.api(`/api/deploys/${id}/logs?limit=100`)).body.length === 9);
    const web1 = await w.api(`/api/deploys/${id}/logs?host=web1&offset=1&limit=2`);
    expect(web1.body.map((l: { line: string }) => l.line)).toEqual(['web1 line 1', 'web1 line 2']);
    expect(web1.body[0]).toMatchObject({ host: 'web1', stream: 'stdout' });
    const tail = await w.api(`/api/deploys/${id}/logs?host=web1&tail=2`);
    expect(tail.body.map((l: { line: string }) => l.line)).toEqual(['web1 line 4', 'web1 line 5']);
    const bad = await w.api(`/api/deploys/${id}/logs?tail=2&offset=1`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('tail');
  });

  it('logs too big for one answer: fewer lines and X-Deploybus-Truncated; paging on from the lines received gets them all; a tail keeps the newest', async () => {
    const w = await webWorld({ hosts: ['web1'] });
    await passBuild(w);
    const id = await deploy(w);
    await finished(w, id);
    // 6 x 150 lines of 2 kB: about 1.8 MB, more than one bus answer holds.
    const text = (n: number): string => `L${String(n).padStart(5, '0')} ${'x'.repeat(2_000)}`;
    for (let seq = 0; seq < 6; seq += 1) {
      const lines = Array.from({ length: 150 }, (_, i) => ({ stream: 'stdout' as const, text: text(seq * 150 + i), at: new Date().toISOString() }));
      await w.client.publish(w.client.message('task.log', { deploymentId: id, app: 'shop', env: 'production', host: 'web1', step: 'restart', seq: 100 + seq, lines }));
    }
    const ours = (body: Array<{ line: string }>): string[] => body.map((l) => l.line.slice(0, 6)).filter((l) => /^L\d{5}$/.test(l));
    await waitFor('900 long lines recorded', async () => ours((await w.api(`/api/deploys/${id}/logs?tail=1000`)).body).includes('L00899'));
    const first = await w.api(`/api/deploys/${id}/logs?limit=1000`);
    expect(first.headers.get('x-deploybus-truncated')).toBe('true');
    expect(first.body.length).toBeLessThan(900);
    const all: Array<{ line: string }> = [];
    for (let offset = 0; ; ) {
      const page = await w.api(`/api/deploys/${id}/logs?offset=${offset}&limit=1000`);
      if (page.body.length === 0) break;
      all.push(...page.body);
      offset += page.body.length;
    }
    expect(ours(all)).toEqual(Array.from({ length: 900 }, (_, n) => text(n).slice(0, 6)));
    const tail = await w.api(`/api/deploys/${id}/logs?tail=1000`);
    expect(tail.headers.get('x-deploybus-truncated')).toBe('true');
    expect(ours(tail.body).at(-1)).toBe('L00899');
  });

  it('cancel: a rollout rolling back after a failure is too late to cancel: 409 finishing', async () => {
    const w = await webWorld({ hosts: ['web1', 'web2'] });
    w.fleet.behaviour.set('web1', 'rollback-hold');
    w.fleet.behaviour.set('web2', 'fail');
    await passBuild(w);
    const id = await deploy(w, { canary: 0 });
    await waitFor('web1 holds its rollback', () => w.fleet.held.length === 1);
    const late = await w.api(`/api/deploys/${id}/cancel`, { method: 'POST' });
    expect(late.status, late.text).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'finishing', message: expect.stringContaining('too late to cancel') as unknown });
    for (const release of w.fleet.held.splice(0)) await release();
    expect((await finished(w, id)).type).toBe('deploy.failed');
  });

  it('cancel: a queued deployment is cancelled (202); a finished one 409 already_finished; an unknown one 404; the queue lists running first', async () => {
    const w = await webWorld({ hosts: ['web1'] });
    w.fleet.behaviour.set('web1', 'hold');
    await passBuild(w);
    const first = await deploy(w);
    await waitFor('the first deploy held by the agent', () => w.fleet.held.length === 1);
    const second = await deploy(w, { ref: SHA, canary: 0 });
    const queue = await w.api('/api/queue?app=shop&env=production');
    expect(queue.body.map((d: { deploymentId: string; state: string }) => [d.deploymentId, d.state])).toEqual([[first, 'running'], [second, 'queued']]);
    const cancelled = await w.api(`/api/deploys/${second}/cancel`, { method: 'POST', body: { reason: 'wrong tag' } });
    expect(cancelled.status, cancelled.text).toBe(202);
    expect(cancelled.body).toMatchObject({ deploymentId: second, result: 'cancelled' });
    const again = await w.api(`/api/deploys/${second}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_finished');
    expect((await w.api('/api/deploys/d-0000000000/cancel', { method: 'POST' })).status).toBe(404);
    for (const release of w.fleet.held.splice(0)) await release();
    expect((await finished(w, first)).type).toBe('deploy.succeeded');
    const record = await w.api(`/api/deploys/${second}`);
    expect(record.body).toMatchObject({ state: 'cancelled' });
    expect(record.body.reason).toContain('ci-bot');
  });

  it('cancel of a running rollout: 202 cancelling, and it stops before its next batch', async () => {
    const w = await webWorld({ hosts: ['web1', 'web2'] });
    w.fleet.behaviour.set('web1', 'hold');
    w.fleet.behaviour.set('web2', 'hold');
    await passBuild(w);
    const id = await deploy(w, { batchSize: 1 });
    await waitFor('the first batch held by its agent', () => w.fleet.held.length === 1);
    const session = await w.signIn();
    const answer = await w.api(`/api/deploys/${id}/cancel`, { method: 'POST', body: { reason: 'stop' }, auth: session });
    expect(answer.status, answer.text).toBe(202);
    expect(answer.body).toMatchObject({ deploymentId: id, result: 'cancelling', state: 'running' });
    for (const release of w.fleet.held.splice(0)) await release();
    const end = await finished(w, id);
    expect(end.type).toBe('deploy.cancelled');
    expect(end.payload).toMatchObject({ cancelledBy: 'ada' });
    expect(w.fleet.commands.filter((c) => c.payload.action === 'deploy').map((c) => c.payload.host)).toHaveLength(1);
  });

  it('rollback deploys again the commit of the last succeeded deployment before the current one; none: 409 no_previous_release', async () => {
    const w = await webWorld();
    await passBuild(w);
    await passBuild(w, OTHER_SHA);
    const none = await w.api('/api/rollback', { method: 'POST', body: { app: 'shop', env: 'production' } });
    expect(none.status).toBe(409);
    expect(none.body.error.code).toBe('no_previous_release');
    await finished(w, await deploy(w, { ref: SHA }));
    const onlyOne = await w.api('/api/rollback', { method: 'POST', body: { app: 'shop', env: 'production' } });
    expect(onlyOne.status).toBe(409);
    const current = await deploy(w, { ref: OTHER_SHA });
    await finished(w, current);
    await waitFor('the second deploy recorded as succeeded', async () => (await w.api(`/api/deploys/${current}`)).body.state === 'succeeded');
    const session = await w.signIn();
    const rollback = await w.api('/api/rollback', { method: 'POST', body: { app: 'shop', env: 'production' }, auth: session });
    expect(rollback.status, rollback.text).toBe(202);
    expect(rollback.body).toMatchObject({ ref: SHA, requestedBy: 'ada', status: 'queued', rollbackFrom: { deploymentId: current } });
    expect((await finished(w, rollback.body.deploymentId)).type).toBe('deploy.succeeded');
    const bad = await w.api('/api/rollback', { method: 'POST', body: { app: 'shop' } });
    expect(bad.body.error).toMatchObject({ code: 'invalid_field', field: 'env' });
  });

  it('a locked environment refuses a deploy with 409 and the conductor\'s code; the holder unlocks', async () => {
    const w = await webWorld();
    await passBuild(w);
    const session = await w.signIn();
    expect((await w.api('/api/locks', { method: 'POST', body: { env: 'production', reason: 'incident 311' }, auth: session })).status).toBe(201);
    const locks = await w.api('/api/locks?env=production');
    expect(locks.body).toEqual([expect.objectContaining({ env: 'production', by: 'ada', reason: 'incident 311' })]);
    const refused = await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('locked');
    expect(refused.body.error.message).toContain('incident 311');
    const twice = await w.api('/api/locks', { method: 'POST', body: { env: 'production', reason: 'me too' } });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('already_locked');
    const notMine = await w.api('/api/locks/production', { method: 'DELETE' });
    expect(notMine.status).toBe(409);
    expect(notMine.body.error.code).toBe('held_by_other');
    const noForce = await w.api('/api/locks/production?force=true', { method: 'DELETE' });
    expect(noForce.status).toBe(403);
    const unlocked = await w.api('/api/locks/production', { method: 'DELETE', auth: session });
    expect(unlocked.status, unlocked.text).toBe(200);
    expect(unlocked.body).toMatchObject({ env: 'production', unlocked: true, by: 'ada' });
    expect((await w.api('/api/locks/production', { method: 'DELETE', auth: session })).status).toBe(404);
    expect((await w.api('/api/locks')).body).toEqual([]);
    expect(await deploy(w)).toMatch(/.{8,}/);
  });
});

describe('web: fleet', () => {
  it('apps from the agents\' roster, the roster, and an app\'s tags newest first', async () => {
    const w0dir = await import('node:os').then((os) => os.tmpdir());
    const repoDir = join(w0dir, `web-test-repo-${process.pid}-${Date.now()}`);
    const shas = await gitRepoWithTags(repoDir, ['v1.0.0', 'v1.2.0', 'v1.10.0']);
    const w = await webWorld({ conductorConfig: { apps: { shop: { repoUrl: repoDir } } } });
    const apps = await w.api('/api/apps');
    expect(apps.status).toBe(200);
    expect(apps.body).toEqual([{ app: 'shop', envs: ['production'], hosts: ['web1', 'web2'], downHosts: [] }]);
    const roster = await w.api('/api/roster?service=deploy-agent');
    expect(roster.body.map((e: { host: string; state: string }) => [e.host, e.state])).toEqual([['web1', 'up'], ['web2', 'up']]);
    expect(roster.body[0]).toMatchObject({ service: 'deploy-agent', version: '0.1.0', apps: [{ app: 'shop', env: 'production' }] });
    const tags = await w.api('/api/apps/shop/tags');
    expect(tags.status, tags.text).toBe(200);
    expect(tags.body).toEqual([
      { name: 'v1.10.0', sha: shas.get('v1.10.0') },
      { name: 'v1.2.0', sha: shas.get('v1.2.0') },
      { name: 'v1.0.0', sha: shas.get('v1.0.0') },
    ]);
    const noRepo = await w.api('/api/apps/blog/tags');
    expect(noRepo.status).toBe(400);
    expect(noRepo.body.error.field).toBe('app');
    // A tag deploys once its commit's build passed.
    await passBuild(w, shas.get('v1.2.0'));
    const answer = await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: 'v1.2.0' } });
    expect(answer.status, answer.text).toBe(202);
    expect(answer.body.sha).toBe(shas.get('v1.2.0'));
  });
});

describe('web: rollback of a moving branch', () => {
  it('goes back to the commit that ran, pinned, labelled with the branch it was deployed as', async () => {
    const repoDir = join(await import('node:os').then((os) => os.tmpdir()), `web-test-rollback-${process.pid}-${Date.now()}`);
    cleanups.push(() => rm(repoDir, { recursive: true, force: true }));
    const first = (await gitRepoWithTags(repoDir, ['v1.0.0'])).get('v1.0.0') ?? '';
    const w = await webWorld({ conductorConfig: { apps: { shop: { repoUrl: repoDir } } } });
    await passBuild(w, first);
    const before = await deploy(w, { ref: 'main' });
    await waitFor('the first deploy recorded as succeeded', async () => (await w.api(`/api/deploys/${before}`)).body.state === 'succeeded');
    // main moves on and is deployed: a rollback must not redeploy "main" (that is the new commit).
    const second = (await gitRepoWithTags(repoDir, ['v1.1.0'], { existing: true })).get('v1.1.0') ?? '';
    await passBuild(w, second);
    const current = await deploy(w, { ref: 'main' });
    await waitFor('the second deploy recorded as succeeded', async () => (await w.api(`/api/deploys/${current}`)).body.state === 'succeeded');
    expect((await w.api(`/api/deploys/${current}`)).body.sha).toBe(second);

    const session = await w.signIn();
    const rollback = await w.api('/api/rollback', { method: 'POST', body: { app: 'shop', env: 'production' }, auth: session });
    expect(rollback.status, rollback.text).toBe(202);
    expect(rollback.body).toMatchObject({ ref: 'main', sha: first, rollbackTo: { deploymentId: before, ref: 'main', sha: first }, rollbackFrom: { deploymentId: current, ref: 'main', sha: second } });
    expect((await finished(w, rollback.body.deploymentId)).type).toBe('deploy.succeeded');
    const sent = w.fleet.commands.flatMap((c) => (c.payload.action === 'deploy' && c.payload.deploymentId === rollback.body.deploymentId ? [c.payload.sha] : []));
    expect(sent).toEqual(['web1', 'web2'].map(() => first));
  });
});

describe('web: bad input and unavailability', () => {
  it('names the bad field (400) for bodies, unknown fields, queries and path parameters; bad JSON is bad_json', async () => {
    const w = await webWorld();
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/deploys', { app: 'shop', env: 'production', ref: '--upload-pack=evil' }, 'ref'],
      ['POST', '/api/deploys', { app: 'shop', env: 'production' }, 'ref'],
      ['POST', '/api/deploys', { app: 'shop', env: 'production', ref: 'v1', hosts: ['ok', 'bad host'] }, 'hosts[1]'],
      ['POST', '/api/deploys', { app: 'shop', env: 'production', ref: 'v1', batchSize: '250%' }, 'batchSize'],
      ['POST', '/api/deploys', { app: 'shop', env: 'production', ref: 'v1', patterns: ['web*', '[[['] }, 'patterns[1]'],
      ['POST', '/api/deploys', { app: 'shop', env: 'production', ref: 'v1', bogus: 1 }, 'bogus'],
      ['POST', '/api/deploys', { app: '../etc', env: 'production', ref: 'v1' }, 'app'],
      ['POST', '/api/locks', { env: 'production' }, 'reason'],
      ['GET', '/api/deploys?limit=5000', undefined, 'limit'],
      ['GET', '/api/deploys?app=a&app=b', undefined, 'app'],
      ['GET', '/api/matrix?app=shop', undefined, 'env'],
      ['GET', '/api/events?types=deploy.*,$(x)', undefined, 'types'],
      ['GET', '/api/deploys/x', undefined, 'id'],
    ];
    for (const [method, path, body, field] of cases) {
      const answer = await w.api(path, { method, ...(body === undefined ? {} : { body }) });
      expect(answer.status, `${method} ${path} ${answer.text}`).toBe(400);
      expect(answer.body.error, `${method} ${path}`).toMatchObject({ code: 'invalid_field', field });
    }
    const json = await w.api('/api/deploys', { method: 'POST', body: '{"app": ' });
    expect(json.status).toBe(400);
    expect(json.body.error.code).toBe('bad_json');
    const text = await w.api('/api/deploys', { method: 'POST', body: '{"app":"shop"}', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('unsupported_media_type');
    // The same body sent chunked (no Content-Length): still a body, still not JSON.
    const chunked = await fetch(`${w.url}/api/deploys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' },
      body: new ReadableStream({ start: (c) => { c.enqueue(new TextEncoder().encode('{"app":"shop"}')); c.close(); } }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(415);
    await chunked.body?.cancel();
    const twice = await w.api('/api/deploys?app=a&app=b');
    expect(twice.body.error.message).toBe('app: must be given once, as text');
    const unknown = await w.api('/api/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    // A percent-escape that is not UTF-8 in a path parameter is the client's error (it was a 500 with a stack in the log).
    for (const path of ['/api/deploys/%E0%A4%A', '/api/locks/%ZZ']) {
      const answer = await w.api(path, { method: path.includes('locks') ? 'DELETE' : 'GET' });
      expect(answer.status, `${path} ${answer.text}`).toBe(400);
      expect(answer.body.error.code).toBe('bad_path');
    }
    const page = await fetch(`${w.url}/deploys/%ZZ`);
    expect(page.status).toBe(400);
    await page.body?.cancel();
  });

  it('503 conductor_unavailable when no conductor answers in time', async () => {
    const w = await webWorld({ webConfig: { requestTimeoutMs: 300 } });
    await w.daemon?.stop();
    const answer = await w.api('/api/deploys?app=shop');
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('conductor_unavailable');
    const deploy = await w.api('/api/deploys', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA } });
    expect(deploy.status).toBe(503);
  });

  it('serves its OpenAPI document and /healthz (public)', async () => {
    const w = await webWorld();
    const doc = await w.api('/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body).toEqual(JSON.parse(JSON.stringify(loadOpenApi())));
    expect((await w.api('/api/openapi.json', { auth: 'none' })).status).toBe(401);
    const health = await w.api('/healthz', { auth: 'none' });
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', bus: 'connected' });
  });
});

describe('web: Freight compatibility', () => {
  it('POST /api/0/deploys/ queues a deploy and answers 201 in Freight\'s shape; JSON or form; errors name the field', async () => {
    const w = await webWorld();
    await passBuild(w);
    const answer = await w.api('/api/0/deploys/', { method: 'POST', body: { app: 'shop', env: 'production', ref: SHA, params: { x: 1 }, force: false } });
    expect(answer.status, answer.text).toBe(201);
    expect(answer.body).toMatchObject({ app: { name: 'shop' }, environment: 'production', sha: SHA, ref: SHA, status: 'pending', dateStarted: null });
    expect(answer.body.name).toBe(`shop/production#${answer.body.id}`);
    expect((await finished(w, answer.body.id)).type).toBe('deploy.succeeded');

    const form = await w.api('/api/0/deploys/', { method: 'POST', body: new URLSearchParams({ app: 'shop', ref: SHA, params: '{"a":"b"}' }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status, form.text).toBe(201);
    expect(form.body.environment).toBe('production');
    await finished(w, form.body.id);

    const previous = await w.api('/api/0/deploys/', { method: 'POST', body: { app: 'shop', ref: ':previous' } });
    expect(previous.status).toBe(400);
    expect(previous.body).toMatchObject({ error_name: 'invalid_ref', error: { field: 'ref' } });
    const missing = await w.api('/api/0/deploys/', { method: 'POST', body: { ref: SHA } });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'invalid_field', field: 'app' });
    expect((await w.api('/api/0/deploys/', { method: 'POST', body: { app: 'shop', ref: SHA }, auth: 'none' })).status).toBe(401);
  });
});
