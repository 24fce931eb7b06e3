import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JenkinsAuthError, JenkinsClient, JenkinsNotFoundError, JenkinsUnavailableError } from '../src/index.js';
import { FakeJenkins } from './support/fake-jenkins.js';

const USER = 'ci-bot';
const TOKEN = '11aa22bb33cc44dd55ee66ff77889900aa';
const token = { reveal: () => TOKEN };

let jenkins: FakeJenkins | undefined;
afterEach(async () => {
  await jenkins?.close();
  jenkins = undefined;
});

async function fake(options: Partial<ConstructorParameters<typeof FakeJenkins>[0]> = {}): Promise<FakeJenkins> {
  jenkins = new FakeJenkins({ user: USER, token: TOKEN, jobs: ['shop-ci', 'team/shop'], ...options });
  await jenkins.listen();
  return jenkins;
}

function client(url: string, timeoutMs = 5_000): JenkinsClient {
  return new JenkinsClient({ url, user: USER, token, requestTimeoutMs: timeoutMs });
}

describe('JenkinsClient against the fake Jenkins', () => {
  it('fetches a crumb, sends it in the header the issuer names with its session cookie, and reads the queue item from Location', async () => {
    const server = await fake();
    const api = client(server.url);
    const queued = await api.triggerBuild('shop-ci', { REPO: 'shop', REF: 'refs/heads/main', SHA: 'a'.repeat(40) });
    expect(queued.queueUrl).toBe(`${server.url}/queue/item/${queued.queueId}/`);
    const [crumbRequest, post] = server.requests;
    expect(crumbRequest).toMatchObject({ method: 'GET', path: '/crumbIssuer/api/json', user: USER, status: 200 });
    expect(post).toMatchObject({ method: 'POST', path: '/job/shop-ci/buildWithParameters', user: USER, status: 201 });
    expect(post?.crumb).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.fromEntries(new URLSearchParams(post?.body))).toEqual({ REPO: 'shop', REF: 'refs/heads/main', SHA: 'a'.repeat(40) });
    // One crumb serves later POSTs too.
    await api.triggerBuild('shop-ci', { REPO: 'shop', REF: 'refs/heads/main', SHA: 'b'.repeat(40) });
    expect(server.requests.filter((r) => r.path === '/crumbIssuer/api/json')).toHaveLength(1);
  });

  it('sends no crumb when the crumb issuer answers 404 (CSRF protection off)', async () => {
    const server = await fake({ crumbs: false });
    await client(server.url).triggerBuild('shop-ci', { REPO: 'shop', REF: 'refs/heads/main', SHA: 'a'.repeat(40) });
    expect(server.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/crumbIssuer/api/json', 404],
      ['POST', '/job/shop-ci/buildWithParameters', 201],
    ]);
    expect(server.requests[1]?.crumb).toBeUndefined();
  });

  it('refetches the crumb once after a 403 "No valid crumb"', async () => {
    const server = await fake();
    const api = client(server.url);
    await api.triggerBuild('shop-ci', { REPO: 'shop', REF: 'refs/heads/main', SHA: 'a'.repeat(40) });
    server.expireCrumbs();
    await api.triggerBuild('shop-ci', { REPO: 'shop', REF: 'refs/heads/main', SHA: 'b'.repeat(40) });
    expect(server.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/crumbIssuer/api/json', 200],
      ['POST', '/job/shop-ci/buildWithParameters', 201],
      ['POST', '/job/shop-ci/buildWithParameters', 403],
      ['GET', '/crumbIssuer/api/json', 200],
      ['POST', '/job/shop-ci/buildWithParameters', 201],
    ]);
    expect(server.triggered()).toHaveLength(2);
  });

  it('starts jobs in folders under /job/A/job/B', async () => {
    const server = await fake();
    await client(server.url).triggerBuild('team/shop', { REPO: 'shop', REF: 'refs/heads/main', SHA: 'a'.repeat(40) });
    expect(server.requests.at(-1)?.path).toBe('/job/team/job/shop/buildWithParameters');
    expect(server.triggered()[0]?.job).toBe('team/shop');
  });

  it('follows a queue item to its build and reads the build', async () => {
    const server = await fake();
    const api = client(server.url);
    const queued = await api.triggerBuild('shop-ci', { REPO: 'shop', REF: 'refs/heads/main', SHA: 'a'.repeat(40) });
    expect(await api.queueItem(queued.queueUrl)).toMatchObject({ id: queued.queueId, cancelled: false, executable: undefined });
    server.startQueued(queued.queueId);
    const item = await api.queueItem(queued.queueUrl);
    expect(item.executable).toEqual({ number: 1, url: `${server.url}/job/shop-ci/1/` });
    expect(await api.build('shop-ci', 1)).toMatchObject({ number: 1, building: true, result: undefined, durationMs: undefined });
    server.finishBuild('shop-ci', 1, 'UNSTABLE', 4321);
    expect(await api.build('shop-ci', 1)).toMatchObject({ building: false, result: 'UNSTABLE', durationMs: 4321 });
  });

  it('refuses credentials with a typed error naming the user, never the token, in one request', async () => {
    const server = await fake();
    server.refuseCredentials();
    const error = await client(server.url)
      .triggerBuild('shop-ci', { REPO: 'shop', REF: 'refs/heads/main', SHA: 'a'.repeat(40) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JenkinsAuthError);
    expect((error as JenkinsAuthError).message).toBe(`Jenkins refused the credentials for user ${USER} (HTTP 401)`);
    expect(JSON.stringify(error)).not.toContain(TOKEN);
    expect(String((error as Error).stack)).not.toContain(TOKEN);
    expect(server.requests).toHaveLength(1);
  });

  it('reports 5xx, malformed JSON and a refused connection as JenkinsUnavailableError', async () => {
    const server = await fake();
    const api = client(server.url);
    server.failNext(1, 502);
    await expect(api.triggerBuild('shop-ci', { REPO: 'r', REF: 'refs/heads/main', SHA: 'a'.repeat(40) })).rejects.toBeInstanceOf(JenkinsUnavailableError);
    const queued = await api.triggerBuild('shop-ci', { REPO: 'r', REF: 'refs/heads/main', SHA: 'a'.repeat(40) });
    server.malformedNext(1);
    const malformed = await api.queueItem(queued.queueUrl).catch((e: unknown) => e);
    expect(malformed).toBeInstanceOf(JenkinsUnavailableError);
    expect((malformed as Error).message).toContain('malformed JSON');
    const url = `http://127.0.0.1:${await closedPort()}`;
    const refused = await client(url).queueItem(`${url}/queue/item/1/`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JenkinsUnavailableError);
    expect((refused as Error).message).toContain('ECONNREFUSED');
    expect((refused as Error).message).not.toContain(TOKEN);
  });

  it('answers 404 for an unknown job with JenkinsNotFoundError', async () => {
    const server = await fake();
    await expect(client(server.url).triggerBuild('nope', { REPO: 'r', REF: 'refs/heads/main', SHA: 'a'.repeat(40) })).rejects.toBeInstanceOf(JenkinsNotFoundError);
  });

  it('does not send credentials to a queue URL outside the configured Jenkins', async () => {
    const server = await fake();
    await expect(client(server.url).queueItem('http://elsewhere.example.com/queue/item/1/')).rejects.toThrow(/not under/);
    expect(server.requests).toHaveLength(0);
  });
});

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
