// The web's pure parts: sessions and tokens, rollback's choice, the deploy request mapping, apps from
// the roster, event filters; and the bus gateway turning a message.rejected into a 400 naming the field.
import { afterEach, describe, expect, it } from 'vitest';
import type { Request } from 'express';
import { connectBus, type Bus } from '@deploybus/bus';
import { Authenticator, BusGateway, eventMatches, InvalidFieldError, LoginThrottle, NoAnswerError, sseFrame, typeMatches, UnauthenticatedError } from '../src/index.js';
import { deployFieldName, rollbackTarget, toApiDeployment, toDeployRequest, type LedgerDeployment } from '../src/deploy-requests.js';
import { appsFromRoster } from '../src/routes/fleet.js';
import { checkSameOrigin } from '../src/routes/session.js';
import { randomName } from '../../../packages/bus/test/support/wait-for.js';

const buses: Bus[] = [];
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
});

const request = (headers: Record<string, string>, method = 'GET'): Request => ({ headers, method }) as unknown as Request;

describe('Authenticator', () => {
  const users = [{ name: 'ada', secret: 'pw-ada' }, { name: 'bob', secret: 'pw-bob' }];
  const tokens = [{ name: 'ci-bot', secret: 'tok-1' }];

  it('checks passwords and tokens against every configured one', () => {
    const auth = new Authenticator({ users, tokens, sessionSecret: 's'.repeat(32), sessionTtlMs: 60_000 });
    expect(auth.checkPassword('ada', 'pw-ada')).toBe('ada');
    expect(auth.checkPassword('ada', 'pw-bob')).toBeUndefined();
    expect(auth.checkPassword('bob', 'pw-bob')).toBe('bob');
    expect(auth.checkPassword('eve', 'pw-ada')).toBeUndefined();
    expect(auth.checkToken('tok-1')).toBe('ci-bot');
    expect(auth.checkToken('tok-2')).toBeUndefined();
    expect(auth.authenticate(request({ authorization: 'Bearer tok-1' }, 'POST'))).toEqual({ name: 'ci-bot', via: 'token' });
  });

  it('a session expires, dies with its user, and only works with the secret that signed it', () => {
    let now = 1_000_000;
    const auth = new Authenticator({ users, tokens, sessionSecret: 's'.repeat(32), sessionTtlMs: 60_000, now: () => now });
    const cookie = auth.issueSession('ada');
    const session = auth.readSession(cookie);
    expect(session.user).toBe('ada');
    expect(session.expiresAt).toBe(1_060_000);
    const viaCookie = auth.authenticate(request({ cookie: `other=1; deploybus_session=${cookie}` }));
    expect(viaCookie).toEqual({ name: 'ada', via: 'session', csrfToken: session.csrfToken });
    now += 60_001;
    expect(() => auth.readSession(cookie)).toThrow(/expired/);
    now -= 60_001;
    const otherSecret = new Authenticator({ users, tokens, sessionSecret: 't'.repeat(32), sessionTtlMs: 60_000, now: () => now });
    expect(() => otherSecret.readSession(cookie)).toThrow(UnauthenticatedError);
    const withoutAda = new Authenticator({ users: [users[1] ?? users[0]!], tokens, sessionSecret: 's'.repeat(32), sessionTtlMs: 60_000, now: () => now });
    expect(() => withoutAda.readSession(cookie)).toThrow(/no longer configured/);
    // Two sign-ins, two CSRF tokens.
    expect(auth.readSession(auth.issueSession('ada')).csrfToken).not.toBe(session.csrfToken);
  });
});

const d = (id: string, state: string, ref: string, sha?: string): LedgerDeployment => ({ id, app: 'shop', env: 'production', ref, ...(sha === undefined ? {} : { sha }), requestedBy: 'ada', state, createdAt: '2026-11-22T10:00:00.000Z' });

describe('rollbackTarget', () => {
  it('goes back past failures and redeploys of the same commit to the one before the current', () => {
    const history = [d('d5', 'failed', 'v4', 'c4'), d('d4', 'succeeded', 'v3', 'c3'), d('d3', 'succeeded', 'v3-again', 'c3'), d('d2', 'cancelled', 'v2', 'c2'), d('d1', 'succeeded', 'v1', 'c1')];
    const target = rollbackTarget(history);
    expect(target.current?.id).toBe('d4');
    expect(target.previous?.id).toBe('d1');
  });

  it('has nothing to go back to with one release or none', () => {
    expect(rollbackTarget([d('d1', 'succeeded', 'v1', 'c1')]).previous).toBeUndefined();
    expect(rollbackTarget([d('d1', 'failed', 'v1')])).toEqual({ current: undefined, previous: undefined });
  });
});

describe('deploy requests', () => {
  it('maps the flat API body to targets and rollout, and field names back', () => {
    const payload = toDeployRequest({ app: 'shop', env: 'production', ref: 'v1', hosts: ['web1'], roles: ['api'], batchSize: '25%', canary: 1, pauseMs: 5, force: true }, 'ada');
    expect(payload).toEqual({ app: 'shop', env: 'production', ref: 'v1', targets: { hosts: ['web1'], roles: ['api'] }, rollout: { batchSize: '25%', canary: 1, pauseMs: 5 }, requestedBy: 'ada', force: true });
    expect(deployFieldName('targets.hosts[0]')).toBe('hosts[0]');
    expect(deployFieldName('rollout.batchSize')).toBe('batchSize');
    expect(deployFieldName('ref')).toBe('ref');
  });

  it('shows a ledger deployment with its duration', () => {
    const api = toApiDeployment({ ...d('d1', 'succeeded', 'v1', 'c1'), startedAt: '2026-11-22T10:00:01.000Z', finishedAt: '2026-11-22T10:00:03.500Z' });
    expect(api).toMatchObject({ deploymentId: 'd1', requestedAt: '2026-11-22T10:00:00.000Z', durationMs: 2500, sha: 'c1', reason: null });
    expect(toApiDeployment(d('d2', 'queued', 'v1')).durationMs).toBeNull();
  });
});

describe('apps from the roster', () => {
  it('groups agents\' apps by app, with envs and hosts sorted; down hosts apart, an app whose agents are all down still listed; other daemons left out', () => {
    const entry = (host: string, state: 'up' | 'down', apps: Array<{ app: string; env: string }>, service = 'deploy-agent') => ({
      service, host, instance: `${host}-1`, version: '1', state, firstSeen: '2026-11-22T10:00:00.000Z', lastSeen: '2026-11-22T10:00:00.000Z', uptimeMs: 1, intervalMs: 1000, apps,
    });
    const apps = appsFromRoster([
      entry('web10', 'up', [{ app: 'shop', env: 'production' }]),
      entry('web2', 'up', [{ app: 'shop', env: 'staging' }, { app: 'blog', env: 'production' }]),
      entry('web3', 'down', [{ app: 'shop', env: 'qa' }]),
      entry('ops1', 'up', [{ app: 'admin', env: 'production' }], 'conductor'),
      entry('db1', 'down', [{ app: 'ledger', env: 'production' }]),
      { ...entry('web2', 'down', [{ app: 'shop', env: 'staging' }]), instance: 'web2-0' }, // the instance before a restart
    ]);
    expect(apps).toEqual([
      { app: 'blog', envs: ['production'], hosts: ['web2'], downHosts: [] },
      { app: 'ledger', envs: ['production'], hosts: [], downHosts: ['db1'] },
      { app: 'shop', envs: ['production', 'qa', 'staging'], hosts: ['web2', 'web10'], downHosts: ['web3'] },
    ]);
  });
});

describe('event filters', () => {
  const event = { id: 'm-1', type: 'task.log', time: '2026-11-22T10:00:00.000Z', payload: { deploymentId: 'd-1', app: 'shop', env: 'production' } };
  it('match exact types, prefixes and everything; and deployment, app, env', () => {
    expect(typeMatches('task.log', ['task.*'])).toBe(true);
    expect(typeMatches('task.log', ['deploy.*'])).toBe(false);
    expect(typeMatches('taskx.log', ['task.*'])).toBe(false);
    expect(typeMatches('task.log', ['*'])).toBe(true);
    expect(typeMatches('task.log', undefined)).toBe(true);
    expect(eventMatches(event, { deploymentId: 'd-1', app: 'shop', env: 'production' })).toBe(true);
    expect(eventMatches(event, { deploymentId: 'd-2' })).toBe(false);
    expect(eventMatches(event, { env: 'staging' })).toBe(false);
    expect(eventMatches({ ...event, payload: null }, { app: 'shop' })).toBe(false);
  });

  it('frames SSE with the seq as id when known, else the message id of a recorded type, else no id; data on one line', () => {
    expect(sseFrame({ ...event, type: 'task.completed', payload: { text: 'a\nb' } })).toBe('id: m-1\nevent: task.completed\ndata: {"id":"m-1","type":"task.completed","time":"2026-11-22T10:00:00.000Z","payload":{"text":"a\\nb"}}\n\n');
    expect(sseFrame({ ...event, seq: 42 }).startsWith('id: 42\n')).toBe(true);
    // The ledger never records task.log: no id, so the client's Last-Event-ID stays on a resumable event.
    expect(sseFrame(event)).toBe('event: task.log\ndata: {"id":"m-1","type":"task.log","time":"2026-11-22T10:00:00.000Z","payload":{"deploymentId":"d-1","app":"shop","env":"production"}}\n\n');
    expect(sseFrame({ ...event, type: 'deploy.requested' }).startsWith('event: ')).toBe(true);
    expect(sseFrame({ ...event, type: 'presence.changed' }).startsWith('event: ')).toBe(true);
    expect(sseFrame({ ...event, type: 'lock.state' }).startsWith('id: m-1\n')).toBe(true);
  });
});

describe('BusGateway', () => {
  it('turns a message.rejected answer into a 400 naming the API field, and silence into 503', async () => {
    const url = `memory://${randomName('gateway')}`;
    const web = await connectBus(url, { service: 'web', host: 'webhost' });
    const conductor = await connectBus(url, { service: 'conductor', host: 'ops1' });
    buses.push(web, conductor);
    await conductor.subscribe({ patterns: ['deploy.requested.#'] }, async (message) => {
      await conductor.reply(message, conductor.message('message.rejected', { rejectedType: 'deploy.requested', reason: 'deploy.requested payload.targets.hosts[2]: must be a host name', queue: 'deploybus.conductor' }, { correlationId: message.id }));
    });
    const gateway = new BusGateway({ bus: web, keepaliveHosts: ['ka1'], timeoutMs: 2_000 });
    const error = await gateway.deploy({ app: 'shop', env: 'production', ref: 'v1', requestedBy: 'ada' }, deployFieldName).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFieldError);
    expect(error).toMatchObject({ status: 400, field: 'hosts[2]' });
    expect((error as Error).message).toBe('hosts[2]: must be a host name');
    const quiet = new BusGateway({ bus: web, keepaliveHosts: ['ka1'], timeoutMs: 100 });
    await expect(quiet.roster()).rejects.toBeInstanceOf(NoAnswerError);
    await expect(quiet.query('history')).rejects.toMatchObject({ status: 503, code: 'conductor_unavailable' });
  });
});

describe('checkSameOrigin', () => {
  it('allows no Origin and the same host (whatever the scheme, e.g. TLS ended at a proxy); refuses other hosts and "null"', () => {
    expect(() => checkSameOrigin(request({ host: 'deploy.example.com' }, 'POST'))).not.toThrow();
    expect(() => checkSameOrigin(request({ host: 'deploy.example.com', origin: 'https://deploy.example.com' }, 'POST'))).not.toThrow();
    expect(() => checkSameOrigin(request({ host: '127.0.0.1:8600', 'x-forwarded-host': 'deploy.example.com', origin: 'https://deploy.example.com' }, 'POST'))).not.toThrow();
    expect(() => checkSameOrigin(request({ host: 'deploy.example.com', origin: 'https://evil.example.com' }, 'POST'))).toThrow(/cross-site/);
    expect(() => checkSameOrigin(request({ host: 'deploy.example.com', origin: 'https://deploy.example.com:444' }, 'POST'))).toThrow(/cross-site/);
    expect(() => checkSameOrigin(request({ host: 'deploy.example.com', origin: 'null' }, 'POST'))).toThrow(/cross-site/);
  });
});

describe('LoginThrottle', () => {
  it('makes a user name from one address wait after too many failures, until the window passes; others are not affected', () => {
    let now = 0;
    const throttle = new LoginThrottle({ maxFailures: 3, windowMs: 1000, now: () => now });
    for (let i = 0; i < 3; i += 1) {
      expect(throttle.retryAfterMs('ada', '10.0.0.1')).toBe(0);
      throttle.failed('ADA', '10.0.0.1');
      now += 100;
    }
    expect(throttle.retryAfterMs('ada', '10.0.0.1')).toBe(700);
    expect(throttle.retryAfterMs('ada', '10.0.0.2')).toBe(0);
    expect(throttle.retryAfterMs('bob', '10.0.0.1')).toBe(0);
    now += 700;
    expect(throttle.retryAfterMs('ada', '10.0.0.1')).toBe(0);
    throttle.failed('ada', '10.0.0.1');
    throttle.succeeded('ada', '10.0.0.1');
    expect(throttle.retryAfterMs('ada', '10.0.0.1')).toBe(0);
  });

  it('forgets the oldest pairs past maxEntries', () => {
    const throttle = new LoginThrottle({ maxFailures: 1, windowMs: 60_000, maxEntries: 2 });
    throttle.failed('a', 'x');
    throttle.failed('b', 'x');
    throttle.failed('c', 'x');
    expect(throttle.retryAfterMs('a', 'x')).toBe(0);
    expect(throttle.retryAfterMs('c', 'x')).toBeGreaterThan(0);
  });
});
