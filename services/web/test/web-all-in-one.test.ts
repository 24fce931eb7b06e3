// The API through the whole system: `startAllInOne` (what `npm start` runs: keepalive, the conductor
// with its SQLite ledger, real deploy-agents deploying into folders, the web) on the in-memory bus.
// Signs in with the demo's credentials, picks a tag from the API, deploys it to two servers watching
// the live stream, and sees the matrix change and the files on those servers' disks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllInOne } from '@deploybus/all-in-one';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { startTestSystem, type TestSystem } from '../../../all-in-one/test/support/test-system.js';

let started: TestSystem | undefined;
let system: AllInOne;
let dataDir = '';

beforeAll(async () => {
  started = await startTestSystem('web-e2e', { pollIntervalMs: 60_000 });
  ({ system, dataDir } = started);
}, 60_000);
afterAll(async () => {
  await started?.stop();
}, 60_000);

async function api(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of many shapes
  const response = await fetch(`${system.webUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${system.credentials.token}`, accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('web through the all-in-one', () => {
  it('deploys a tag picked from the API to two chosen servers, live over SSE, and the matrix and disks change', async () => {
    await waitFor('the demo app with its production servers', async () => {
      const apps = await api('/api/apps');
      const demo = (apps.body as Array<{ app: string; hosts: string[] }> | undefined)?.find((a) => a.app === 'demo');
      return apps.status === 200 && demo !== undefined && ['web1', 'web2', 'web3'].every((h) => demo.hosts.includes(h));
    }, 30_000);
    const tags = await api('/api/apps/demo/tags');
    expect(tags.status).toBe(200);
    expect(tags.body.length).toBeGreaterThan(1);
    const tag = tags.body[0] as { name: string; sha: string };

    // The live stream, opened before the deploy.
    const abort = new AbortController();
    const stream = await fetch(`${system.webUrl}/api/events?app=demo&types=deploy.*,task.*`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${system.credentials.token}` }, signal: abort.signal });
    let received = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      const reader = stream.body?.getReader();
      try {
        for (;;) {
          const chunk = await reader?.read();
          if (chunk === undefined || chunk.done) return;
          received += decoder.decode(chunk.value, { stream: true });
        }
      } catch {
        // aborted
      }
    })();

    const answer = await api('/api/deploys', { method: 'POST', body: { app: 'demo', env: 'production', ref: tag.name, hosts: ['web1', 'web2'], batchSize: 1 } });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ app: 'demo', env: 'production', ref: tag.name, sha: tag.sha, requestedBy: 'demo-token' });
    const id = answer.body.deploymentId as string;
    await waitFor('deploy.succeeded on the stream', () => received.includes('event: deploy.succeeded'), 60_000);
    expect(received).toContain('event: task.started');
    expect(received).toContain(`"deploymentId":"${id}"`);
    abort.abort();
    await reading;

    const deployment = await api(`/api/deploys/${id}`);
    expect(deployment.body.state).toBe('succeeded');
    expect(deployment.body.hosts.map((h: { host: string }) => h.host).sort()).toEqual(['web1', 'web2']);
    await waitFor('the matrix shows the tag on web1 and web2', async () => {
      const matrix = await api('/api/matrix?app=demo&env=production');
      const refOf = (host: string): string | undefined => (matrix.body.hosts as Array<{ host: string; ref: string }>).find((h) => h.host === host)?.ref;
      return refOf('web1') === tag.name && refOf('web2') === tag.name;
    });
    for (const host of ['web1', 'web2']) expect(readFileSync(join(dataDir, 'servers', host, 'apps', 'demo', 'current', 'VERSION'), 'utf8').trim()).toBe(tag.name.replace(/^v/, ''));
    const logs = await api(`/api/deploys/${id}/logs?tail=50`);
    expect(logs.status).toBe(200);
    expect(logs.body.length).toBeGreaterThan(0);
  }, 90_000);

  it('signs in with the demo user; a lock refuses the deploy (409 locked) until unlocked', async () => {
    const login = await fetch(`${system.webUrl}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: system.credentials.user, password: system.credentials.password }).toString(), redirect: 'manual' });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const session = await api('/api/session', { headers: { authorization: '', cookie } });
    expect(session.body.user).toBe('admin');
    const asAdmin = { authorization: '', cookie, 'x-csrf-token': session.body.csrfToken as string };
    expect((await api('/api/locks', { method: 'POST', body: { env: 'staging', reason: 'demo freeze' }, headers: asAdmin })).status).toBe(201);
    const refused = await api('/api/deploys', { method: 'POST', body: { app: 'demo', env: 'staging', ref: 'v1.0.0' } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('locked');
    expect((await api('/api/locks/staging', { method: 'DELETE', headers: asAdmin })).status).toBe(200);
    const accepted = await api('/api/deploys', { method: 'POST', body: { app: 'demo', env: 'staging', ref: 'v1.0.0' } });
    expect(accepted.status).toBe(202);
    await waitFor('the staging deploy to succeed', async () => (await api(`/api/deploys/${accepted.body.deploymentId as string}`)).body.state === 'succeeded', 30_000);
  }, 60_000);
});
