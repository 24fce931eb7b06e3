// The build gate's second source: GitHub's combined commit status, from a stand-in of GitHub's API
// (GET /repos/{owner}/{repo}/commits/{ref}/status, Bearer token, 401 "Bad credentials" otherwise).
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { statusesPass } from '../src/github-build-status.js';
import { cleanUp, cleanups, deploymentIdOf, finished, SHA, world } from './support/conductor-world.js';

afterEach(cleanUp);

const TOKEN = 'ghp_build_gate_token';

async function fakeGitHub(statuses: Map<string, Array<{ context: string; state: string }>>): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  const server: Server = createServer((req, res) => {
    asked.push(req.url ?? '');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}');
    const m = /^\/repos\/([^/]+\/[^/]+)\/commits\/([0-9a-f]{40})\/status(\?.*)?$/.exec(req.url ?? '');
    const list = m === null ? undefined : statuses.get(`${m[1] ?? ''}@${m[2] ?? ''}`);
    if (list === undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
    const state = list.some((s) => s.state === 'failure' || s.state === 'error') ? 'failure' : list.every((s) => s.state === 'success') && list.length > 0 ? 'success' : 'pending';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ state, sha: m?.[2], total_count: list.length, statuses: list }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

describe('build gate: GitHub combined status', () => {
  it('passes a commit whose CI statuses on GitHub are all success (ignoring deploybus\' own), and refuses one still pending', async () => {
    const statuses = new Map([[`acme/shop@${SHA}`, [{ context: 'ci/jenkins', state: 'success' }, { context: 'deploybus/staging', state: 'failure' }]]]);
    const gh = await fakeGitHub(statuses);
    const w = await world();
    const tokenFile = join(w.dir, 'github-token');
    await writeFile(tokenFile, TOKEN);
    await w.start({ githubStatus: { apiUrl: gh.url, token: { file: tokenFile }, repos: { shop: 'acme/shop' } } });
    const reply = await w.request({});
    expect(reply.type).toBe('deploy.queued');
    expect((await finished(w, deploymentIdOf(reply))).type).toBe('deploy.succeeded');
    expect(gh.asked).toContain(`/repos/acme/shop/commits/${SHA}/status?per_page=100`);

    statuses.set(`acme/shop@${SHA}`, [{ context: 'ci/jenkins', state: 'pending' }]);
    const pending = await w.request({});
    expect(pending.type).toBe('deploy.refused');
    expect(pending.payload).toMatchObject({ code: 'BUILD_NOT_PASSED' });
  });

  it('keeps the gate closed when GitHub refuses the token', async () => {
    const gh = await fakeGitHub(new Map([[`acme/shop@${SHA}`, [{ context: 'ci', state: 'success' }]]]));
    const w = await world();
    const tokenFile = join(w.dir, 'github-token');
    await writeFile(tokenFile, 'not-the-token');
    await w.start({ githubStatus: { apiUrl: gh.url, token: { file: tokenFile }, repos: { shop: 'acme/shop' } } });
    const reply = await w.request({});
    expect(reply.type).toBe('deploy.refused');
    expect(reply.payload).toMatchObject({ code: 'BUILD_NOT_PASSED' });
    expect(gh.asked.length).toBe(1);
  });

  it('decides from the latest status per context, required contexts first', () => {
    const o = { ignoreContexts: ['deploybus/'] };
    expect(statusesPass([{ context: 'ci', state: 'success' }, { context: 'ci', state: 'failure' }], o)).toBe(true);
    expect(statusesPass([{ context: 'ci', state: 'failure' }, { context: 'ci', state: 'success' }], o)).toBe(false);
    expect(statusesPass([{ context: 'deploybus/production', state: 'success' }], o)).toBe(false);
    expect(statusesPass([], o)).toBe(false);
    expect(statusesPass([{ context: 'ci', state: 'success' }, { context: 'lint', state: 'failure' }], { ...o, requiredContexts: ['ci'] })).toBe(true);
    expect(statusesPass([{ context: 'lint', state: 'success' }], { ...o, requiredContexts: ['ci'] })).toBe(false);
  });
});
