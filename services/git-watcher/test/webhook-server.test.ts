// The webhook endpoints over real HTTP on the in-memory bus: what is published, what is refused,
// and that a delivery is published once, also across a restart.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import type { GitWatcher } from '../src/index.js';
import { githubExamples, post, postGithub, startWatcher, tempDir, TEST_DOCKERHUB_TOKEN, TEST_GITLAB_TOKEN } from './watcher-support.js';
import { randomName, sleep, waitFor } from '../../../packages/bus/test/support/wait-for.js';

let bus: Bus;
let data: { dir: string; remove: () => void };
let watcher: GitWatcher | undefined;
let received: Message[];

beforeEach(async () => {
  bus = await connectBus(`memory://${randomName('gw')}`, { service: 'git-watcher', host: 'test' });
  received = [];
  await bus.subscribe({ patterns: ['commit.pushed.#', 'image.pushed.#'] }, (m) => void received.push(m));
  data = tempDir('gw');
});

afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
  await bus.close();
  data.remove();
});

const pushExample = (): Record<string, unknown> => {
  const example = githubExamples('push').find((e) => (e['commits'] as unknown[]).length > 0);
  if (!example) throw new Error('no push example with commits');
  return example;
};

describe('POST /webhooks/github', () => {
  it('publishes a signed push once the broker confirmed it, and answers 202 with the message id', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    const reply = await postGithub(watcher, JSON.stringify(pushExample()));
    expect(reply.status).toBe(202);
    await waitFor('the commit.pushed event', () => received.length === 1);
    const event = received[0];
    expect(event?.type).toBe('commit.pushed');
    expect(event?.type === 'commit.pushed' && event.payload).toMatchObject({ repo: 'Hello-World', ref: 'refs/heads/master', origin: 'github' });
    expect(reply.json['published']).toEqual([event?.id]);
  });

  it('answers a ping with 200 and publishes nothing', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    const reply = await postGithub(watcher, JSON.stringify(githubExamples('ping')[0]), { event: 'ping' });
    expect(reply.status).toBe(200);
    await sleep(50);
    expect(received).toHaveLength(0);
  });

  it('refuses a forged, a missing and a wrong-length signature with 401 and publishes nothing', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    const body = JSON.stringify(pushExample());
    expect((await postGithub(watcher, body, { secret: 'not-the-secret' })).status).toBe(401);
    expect((await postGithub(watcher, body, { secret: undefined })).status).toBe(401);
    expect((await postGithub(watcher, body, { secret: undefined, headers: { 'x-hub-signature-256': 'sha256=abcd' } })).status).toBe(401);
    const genuine = await postGithub(watcher, body);
    expect(genuine.status).toBe(202); // control: the same body, rightly signed, goes through
    await waitFor('the one genuine event', () => received.length === 1);
    await sleep(50);
    expect(received).toHaveLength(1);
  });

  it('publishes a repeated delivery id once, also after a restart (ids persist in the state file)', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    const body = JSON.stringify(pushExample());
    const delivery = crypto.randomUUID();
    expect((await postGithub(watcher, body, { delivery })).status).toBe(202);
    const again = await postGithub(watcher, body, { delivery });
    expect(again.status).toBe(200);
    expect(again.json['duplicate']).toBe(true);
    await watcher.stop();
    ({ watcher } = await startWatcher(bus, data.dir));
    expect((await postGithub(watcher, body, { delivery })).json['duplicate']).toBe(true);
    expect((await postGithub(watcher, body, { delivery: crypto.randomUUID() })).status).toBe(202);
    await waitFor('two events', () => received.length === 2);
    await sleep(50);
    expect(received).toHaveLength(2);
  });

  it('publishes concurrent copies of one delivery once', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    const body = JSON.stringify(pushExample());
    const delivery = crypto.randomUUID();
    const replies = await Promise.all([1, 2, 3].map(() => postGithub(watcher as GitWatcher, body, { delivery })));
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 202]);
    await sleep(50);
    expect(received).toHaveLength(1);
  });

  it('answers an unhandled event type 202 with the reason, publishing nothing', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    const reply = await postGithub(watcher, JSON.stringify({ action: 'opened' }), { event: 'issues' });
    expect(reply.status).toBe(202);
    expect(reply.json).toMatchObject({ ignored: true });
    expect(String(reply.json['reason'])).toContain('issues');
    expect(received).toHaveLength(0);
  });

  it('answers malformed JSON 400 naming the problem', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    const reply = await postGithub(watcher, '{"ref": "refs/heads/main",');
    expect(reply.status).toBe(400);
    expect(String(reply.json['error'])).toContain('not valid JSON');
  });

  it('answers a body over the limit 413', async () => {
    ({ watcher } = await startWatcher(bus, data.dir, { http: { port: 0, bodyLimitBytes: 2048 } }));
    const big = JSON.stringify({ ...pushExample(), padding: 'x'.repeat(4096) });
    const reply = await postGithub(watcher, big);
    expect(reply.status).toBe(413);
    expect(received).toHaveLength(0);
  });

  it('answers hostile repo names and refs 422 and publishes nothing', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    for (const change of [{ repository: { name: '../../etc' } }, { ref: '--upload-pack=touch /tmp/x' }, { ref: 'refs/heads/$(touch /tmp/x)' }, { ref: '../../etc' }]) {
      const reply = await postGithub(watcher, JSON.stringify({ ...pushExample(), ...change }));
      expect(reply.status, JSON.stringify(change)).toBe(422);
    }
    await sleep(50);
    expect(received).toHaveLength(0);
  });

  it('answers 503 when the bus is down, so GitHub retries; the retry is then published', async () => {
    const broken = await connectBus(`memory://${randomName('down')}`, { service: 'git-watcher', host: 'test' });
    await broken.close();
    ({ watcher } = await startWatcher(broken, data.dir));
    const body = JSON.stringify(pushExample());
    const delivery = crypto.randomUUID();
    expect((await postGithub(watcher, body, { delivery })).status).toBe(503);
    await watcher.stop();
    // Same state dir, a working bus: the delivery was not remembered, so the retry goes out.
    ({ watcher } = await startWatcher(bus, data.dir));
    expect((await postGithub(watcher, body, { delivery })).status).toBe(202);
    await waitFor('the retried event', () => received.length === 1);
  });
});

describe('POST /webhooks/gitlab', () => {
  const body = readFileSync(new URL('./fixtures/gitlab-push.json', import.meta.url), 'utf8');
  const headers = (token: string | undefined, uuid = crypto.randomUUID()): Record<string, string> => ({
    'content-type': 'application/json',
    'x-gitlab-event': 'Push Hook',
    'x-gitlab-event-uuid': uuid,
    ...(token === undefined ? {} : { 'x-gitlab-token': token }),
  });

  it('publishes with the right token, once per event UUID; 401 without it', async () => {
    ({ watcher } = await startWatcher(bus, data.dir));
    const url = `${watcher.url}/webhooks/gitlab`;
    expect((await post(url, body, headers('wrong'))).status).toBe(401);
    expect((await post(url, body, headers(undefined))).status).toBe(401);
    const uuid = crypto.randomUUID();
    expect((await post(url, body, headers(TEST_GITLAB_TOKEN, uuid))).status).toBe(202);
    expect((await post(url, body, headers(TEST_GITLAB_TOKEN, uuid))).status).toBe(200);
    await waitFor('the gitlab event', () => received.length === 1);
    await sleep(50);
    expect(received).toHaveLength(1);
    expect(received[0]?.type === 'commit.pushed' && received[0].payload.origin).toBe('gitlab');
  });
});

describe('POST /webhooks/dockerhub', () => {
  let callbackServer: Server;
  let callbacks: Array<Record<string, unknown>>;
  let callbackHost: string;

  beforeEach(async () => {
    callbacks = [];
    callbackServer = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      req.on('end', () => {
        callbacks.push(JSON.parse(text) as Record<string, unknown>);
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
    const address = callbackServer.address();
    callbackHost = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => callbackServer.close(() => resolve()));
  });

  const payload = (callbackUrl: string): string => {
    const body = JSON.parse(readFileSync(new URL('./fixtures/dockerhub-push.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    return JSON.stringify({ ...body, callback_url: callbackUrl });
  };

  it('publishes image.pushed with the token in the path, and answers the callback on an allowed host', async () => {
    ({ watcher } = await startWatcher(bus, data.dir, { dockerhub: { token: { env: 'GW_DOCKERHUB' }, callbackHosts: [callbackHost] } }));
    const reply = await post(`${watcher.url}/webhooks/dockerhub/${TEST_DOCKERHUB_TOKEN}`, payload(`http://${callbackHost}/hook/1/`), { 'content-type': 'application/json' });
    expect(reply.status).toBe(202);
    await waitFor('the image.pushed event', () => received.length === 1);
    expect(received[0]?.type === 'image.pushed' && received[0].payload).toEqual({ repository: 'svendowideit/testhook', tag: 'latest', pusher: 'trustedbuilder', origin: 'dockerhub' });
    await waitFor('the callback', () => callbacks.length === 1);
    expect(callbacks[0]).toMatchObject({ state: 'success', context: 'deploybus', target_url: `http://${callbackHost}/hook/1/` });
    // The same body again (Docker Hub has no delivery id: the body's hash is one) is not republished.
    const again = await post(`${watcher.url}/webhooks/dockerhub?token=${TEST_DOCKERHUB_TOKEN}`, payload(`http://${callbackHost}/hook/1/`), { 'content-type': 'application/json' });
    expect(again.status).toBe(200);
    await sleep(50);
    expect(received).toHaveLength(1);
  });

  it('refuses a missing or wrong token with 401, and never calls a callback host that is not allowed', async () => {
    ({ watcher } = await startWatcher(bus, data.dir, { dockerhub: { token: { env: 'GW_DOCKERHUB' }, callbackHosts: [] } }));
    expect((await post(`${watcher.url}/webhooks/dockerhub`, payload(`http://${callbackHost}/x/`), { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post(`${watcher.url}/webhooks/dockerhub/wrong`, payload(`http://${callbackHost}/x/`), { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post(`${watcher.url}/webhooks/dockerhub/${TEST_DOCKERHUB_TOKEN}`, payload(`http://${callbackHost}/y/`), { 'content-type': 'application/json' })).status).toBe(202);
    await waitFor('the image.pushed event', () => received.length === 1);
    await sleep(100);
    expect(callbacks).toHaveLength(0);
  });
});
