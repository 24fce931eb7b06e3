// The web on the real RabbitMQ: the web over STOMP, the conductor over AMQP (with the conductor world's
// fake keepalive and agents). A deploy through the API is answered across the broker and its events
// reach an SSE client live; a lock refuses a deploy with 409; ledger reads answer. Never stops the broker.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commandQueueName } from '@deploybus/protocol';
import { AMQP_URL, requireRabbit, STOMP_URL, deleteQueues } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cleanUp, passBuild, SHA } from '../../conductor/test/support/conductor-world.js';
import { TOKEN, webWorld } from './support/web-world.js';

beforeAll(async () => {
  await requireRabbit();
});

let hosts: string[] = [];
afterEach(async () => {
  await cleanUp();
  await deleteQueues(hosts.map(commandQueueName));
  hosts = [];
});

describe('web on RabbitMQ', () => {
  it('deploys through the API (web on STOMP, conductor on AMQP) with the events live over SSE; a lock on the app refuses with 409', async () => {
    hosts = [randomName('web'), randomName('web')];
    const app = randomName('app').replace('-', '');
    const keepaliveHost = randomName('ka');
    const w = await webWorld({ hosts, app, busUrl: AMQP_URL, keepaliveHost, webConfig: { bus: { url: STOMP_URL }, roster: { keepaliveHosts: [keepaliveHost] }, requestTimeoutMs: 15_000 } });
    await passBuild(w, SHA, app);

    const abort = new AbortController();
    const stream = await fetch(`${w.url}/api/events?app=${app}&types=deploy.*`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${TOKEN}` }, signal: abort.signal });
    let received = '';
    const reading = (async () => {
      const reader = stream.body?.getReader();
      const decoder = new TextDecoder();
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
    await waitFor('the stream listening', async () => (await w.api('/healthz', { auth: 'none' })).body.liveClients === 1);

    const apps = await w.api('/api/apps');
    expect(apps.body).toEqual([{ app, envs: ['production'], hosts: [...hosts].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })), downHosts: [] }]);
    const answer = await w.api('/api/deploys', { method: 'POST', body: { app, env: 'production', ref: SHA } });
    expect(answer.status, answer.text).toBe(202);
    const id = answer.body.deploymentId as string;
    await waitFor('deploy.succeeded live over SSE', () => received.includes('event: deploy.succeeded') && received.includes(id), 30_000);
    abort.abort();
    await reading;
    await waitFor('the deployment succeeded in the ledger', async () => (await w.api(`/api/deploys/${id}`)).body.state === 'succeeded');

    expect((await w.api('/api/locks', { method: 'POST', body: { env: 'production', app, reason: 'broker test' } })).status).toBe(201);
    const refused = await w.api('/api/deploys', { method: 'POST', body: { app, env: 'production', ref: SHA } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('locked');
    expect((await w.api(`/api/locks/production?app=${app}`, { method: 'DELETE' })).status).toBe(200);
  });
});
