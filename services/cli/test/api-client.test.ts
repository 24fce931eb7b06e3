// The API client's logic against a scripted HTTP server on 127.0.0.1 (a fake for logic tests: what
// the real server does is in cli-api.test.ts): each error status becomes its typed error and exit
// code, answers of the wrong shape are named, and following a deploy whose stream ends early takes
// the outcome from the deployment's record, never a guess.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { DeploybusApi } from '../src/api-client.js';
import { ApiBadAnswerError, ApiFailedError, ApiInputError, ApiRefusedError, ApiUnauthorizedError, ApiUnavailableError, EXIT } from '../src/cli-errors.js';
import { followDeployment } from '../src/deploy-follow.js';
import { LiveOutput } from '../src/live-output.js';
import { runCli } from '../src/cli-program.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function serve(handler: Handler): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const ID = 'demo-production-0001';
const base = { deploymentId: ID, app: 'demo', env: 'production' };

describe('API errors', () => {
  it('turns each status into its typed error, with the API\'s code, field and message', async () => {
    const answers: Record<string, [number, unknown]> = {
      '/api/deploys': [400, { error: { code: 'invalid_field', message: 'must be a whole number above 0', field: 'batchSize' } }],
      '/api/rollback': [409, { error: { code: 'no_previous_release', message: 'cannot roll back: nothing before v1.0.0' } }],
      '/api/roster': [503, { error: { code: 'bus_unavailable', message: 'keepalive did not answer in time' } }],
      '/api/apps': [502, '<html><body><h1>502 Bad Gateway</h1></body></html>'],
      '/api/queue': [200, [{ app: 'demo' }]],
      '/api/locks': [401, { error: { code: 'unauthenticated', message: 'sign in' } }],
    };
    const url = await serve((req, res) => {
      const [status, body] = answers[new URL(req.url ?? '/', 'http://x').pathname] ?? [404, { error: { code: 'not_found', message: 'no' } }];
      if (typeof body === 'string') res.writeHead(status, { 'content-type': 'text/html' }).end(body);
      else json(res, status, body);
    });
    const api = new DeploybusApi({ baseUrl: url, token: 't0ken' });

    const input = await api.deploy({ app: 'demo', env: 'production', ref: 'v1', batchSize: 0 }).catch((e: unknown) => e);
    expect(input).toBeInstanceOf(ApiInputError);
    expect(input).toMatchObject({ status: 400, apiCode: 'invalid_field', field: 'batchSize', exitCode: EXIT.invalidInput, message: 'batchSize: must be a whole number above 0' });
    const refused = await api.rollback({ app: 'demo', env: 'production' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiRefusedError);
    expect(refused).toMatchObject({ apiCode: 'no_previous_release', exitCode: EXIT.refused, message: 'refused (no_previous_release): cannot roll back: nothing before v1.0.0' });
    const unavailable = await api.roster().catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(ApiUnavailableError);
    expect(unavailable).toMatchObject({ exitCode: EXIT.unavailable });
    const proxy = await api.apps().catch((e: unknown) => e);
    expect(proxy).toBeInstanceOf(ApiFailedError);
    expect(proxy).toMatchObject({ message: 'the API answered 502 (http_502): 502 Bad Gateway', exitCode: EXIT.apiFailed });
    const shape = await api.queue({}).catch((e: unknown) => e);
    expect(shape).toBeInstanceOf(ApiBadAnswerError);
    expect((shape as Error).message).toContain('(0.env: ');
    const auth = await api.locks({}).catch((e: unknown) => e);
    expect(auth).toBeInstanceOf(ApiUnauthorizedError);
    expect((auth as Error).message).toMatch(/^the API did not accept the token; check the token/);
  });
});

describe('followDeployment', () => {
  it('takes the outcome from the deployment\'s record when the stream keeps ending before the final event', async () => {
    let streams = 0;
    const url = await serve((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/api/events') {
        streams += 1;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const started = { id: 'm-1', type: 'deploy.started', time: '2026-11-22T10:00:00.000Z', payload: { ...base, ref: 'v1', sha: 'a'.repeat(40), requestedBy: 'ci', hosts: ['web1', 'web2'], batches: [['web1', 'web2']] } };
        const web1 = { id: 'm-2', type: 'deploy.host-result', time: '2026-11-22T10:00:01.000Z', payload: { ...base, host: 'web1', outcome: 'succeeded' } };
        res.end(`retry: 10\n\nid: 1\nevent: deploy.started\ndata: ${JSON.stringify(started)}\n\nid: 2\nevent: deploy.host-result\ndata: ${JSON.stringify(web1)}\n\n`);
        return;
      }
      if (path === `/api/deploys/${ID}`) {
        // Running at the first look, finished at the second.
        const finished = streams >= 2;
        json(res, 200, {
          ...base,
          ref: 'v1',
          sha: null,
          state: finished ? 'failed' : 'running',
          requestedBy: 'ci',
          requestedAt: '2026-11-22T10:00:00.000Z',
          startedAt: null,
          finishedAt: null,
          durationMs: null,
          reason: finished ? 'web2: health-check failed' : null,
          hosts: finished ? [{ host: 'web1', outcome: 'rolled-back', at: '2026-11-22T10:00:02.000Z' }, { host: 'web2', outcome: 'failed', error: 'health-check failed', at: '2026-11-22T10:00:02.000Z' }] : [],
        });
        return;
      }
      json(res, 404, { error: { code: 'not_found', message: 'no' } });
    });
    let out = '';
    const outcome = await followDeployment(new DeploybusApi({ baseUrl: url }), ID, { verbose: false, output: new LiveOutput((t) => (out += t), false), columns: 80 });
    expect(outcome).toEqual({ state: 'failed', reason: 'web2: health-check failed', succeededHosts: [], failedHosts: ['web1', 'web2'], durationMs: undefined });
    expect(streams).toBe(2);
    // web1's result came in the stream (once, though both connections replayed it); web2's only from the record.
    expect(out).toBe(['started: v1 (aaaaaaaaaa) on 2 host(s) in one batch, asked by ci', 'web1  succeeded', 'web2  failed  health-check failed', 'failed: web2: health-check failed', ''].join('\n'));
  });
});

describe('tail', () => {
  it('reopens a dropped stream with the last id it was sent as Last-Event-ID, and stops on Ctrl-C with exit 0', async () => {
    const queries: string[] = [];
    const resumedFrom: Array<string | undefined> = [];
    const stop = new AbortController();
    const url = await serve((req, res) => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      queries.push(query.toString());
      resumedFrom.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (queries.length === 1) {
        const event = { seq: 41, id: 'm-41', type: 'deploy.cancelled', time: '2026-11-22T10:00:00.000Z', payload: { ...base, cancelledBy: 'ada', reason: 'wrong tag' } };
        res.end(`id: 41\nevent: deploy.cancelled\ndata: ${JSON.stringify(event)}\n\n`); // then the connection drops
      } else {
        stop.abort(); // Ctrl-C once it is back
        res.write(': connected\n\n');
      }
    });
    let out = '';
    let err = '';
    const code = await runCli(['tail', '--type', 'deploy.*', '--api', url], {
      env: {},
      cwd: '/',
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      readStdin: () => Promise.resolve(''),
      nodePath: process.execPath,
      cliPath: '/nonexistent/main.js',
      signal: stop.signal,
    });
    expect(code).toBe(EXIT.ok);
    expect(out).toBe('10:00:00  deploy.cancelled  demo/production demo-production-0001 by ada: wrong tag\n');
    expect(queries).toEqual(['types=deploy.*', 'types=deploy.*']);
    expect(resumedFrom).toEqual([undefined, '41']);
    expect(err).toBe('');
  });

  it('resumes after a live event by its message id (an event without an id does not move it), has the server filter by app and env, prints a replayed repeat once, and says when the replay failed', async () => {
    const queries: string[] = [];
    const resumedFrom: Array<string | undefined> = [];
    const stop = new AbortController();
    const started = { id: 'm-live-1', type: 'deploy.started', time: '2026-11-22T10:00:00.000Z', payload: { ...base, ref: 'v1', sha: 'a'.repeat(40), requestedBy: 'ci', hosts: ['web1'], batches: [['web1']] } };
    const log = { id: 'm-live-2', type: 'task.log', time: '2026-11-22T10:00:01.000Z', payload: { ...base, host: 'web1', taskId: 't', seq: 0, lines: [{ at: '2026-11-22T10:00:01.000Z', stream: 'stdout', text: 'hello' }] } };
    const succeeded = { seq: 7, id: 'm-live-3', type: 'deploy.succeeded', time: '2026-11-22T10:00:02.000Z', payload: { ...base, ref: 'v1', sha: 'a'.repeat(40), durationMs: 2000, hosts: ['web1'] } };
    const url = await serve((req, res) => {
      queries.push(new URL(req.url ?? '/', 'http://x').searchParams.toString());
      resumedFrom.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (queries.length === 1) {
        // Live: the started event with its message id, then a log line the ledger never records (no id); the connection drops.
        res.end(`id: m-live-1\nevent: deploy.started\ndata: ${JSON.stringify(started)}\n\nevent: task.log\ndata: ${JSON.stringify(log)}\n\n`);
      } else if (queries.length === 2) {
        // The replay after m-live-1; it also repeats the started event (as a server of another version might).
        res.end(`id: 6\nevent: deploy.started\ndata: ${JSON.stringify({ ...started, seq: 6 })}\n\nid: 7\nevent: deploy.succeeded\ndata: ${JSON.stringify(succeeded)}\n\n`);
      } else {
        res.write(`event: replay-failed\ndata: ${JSON.stringify({ code: 'invalid_field', message: 'afterId: the event log holds no event 7', field: 'afterId' })}\n\n`);
        setTimeout(() => stop.abort(), 50);
      }
    });
    let out = '';
    let err = '';
    const code = await runCli(['tail', '--app', 'demo', '--env', 'production', '--api', url, '--json'], {
      env: {},
      cwd: '/',
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      readStdin: () => Promise.resolve(''),
      nodePath: process.execPath,
      cliPath: '/nonexistent/main.js',
      signal: stop.signal,
    });
    expect(code).toBe(EXIT.ok);
    expect(out.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['m-live-1', 'm-live-2', 'm-live-3']);
    expect(queries).toEqual(['app=demo&env=production', 'app=demo&env=production', 'app=demo&env=production']);
    expect(resumedFrom).toEqual([undefined, 'm-live-1', '7']);
    expect(err).toBe('deploybus: the events missed while the stream was down could not be replayed (afterId: the event log holds no event 7); going on with live events\n');
  });
});

describe('logs', () => {
  it('a --tail the server cut (X-Deploybus-Truncated) prints the lines it got and says so on stderr', async () => {
    const line = (seq: number): unknown => ({ host: 'web1', seq, at: '2026-11-23T10:00:00.000Z', stream: 'stdout', line: `line ${seq}` });
    const url = await serve((req, res) => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      if (query.get('tail') === '5') res.setHeader('X-Deploybus-Truncated', 'true');
      json(res, 200, query.get('tail') === '5' ? [line(8), line(9)] : [line(9)]);
    });
    const run = async (tail: string): Promise<{ code: number; out: string; err: string }> => {
      let out = '';
      let err = '';
      const code = await runCli(['logs', ID, '--tail', tail, '--api', url], { env: {}, cwd: '/', stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: () => Promise.resolve(''), nodePath: process.execPath, cliPath: '/nonexistent/main.js' });
      return { code, out, err };
    };
    const cut = await run('5');
    expect(cut.code).toBe(EXIT.ok);
    expect(cut.out.trim().split('\n')).toHaveLength(2);
    expect(cut.err).toBe('deploybus: only the last 2 of the 5 lines asked for fit in one answer (long lines); page through the whole log with --offset and --limit\n');
    const whole = await run('1');
    expect(whole.err).toBe('');
  });
});
