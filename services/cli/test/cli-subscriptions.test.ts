// `deploybus subscriptions` (the built CLI, `npx tsc -b` first) against startAllInOne, whose notifier
// may reach receivers on 127.0.0.1: a real HTTP receiver gets a deploy's events signed with the secret
// the CLI made and printed once; list, show, delete; a refused URL (cloud metadata) exits 65 naming
// url; an unknown id 4; a stopped notifier 69.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllInOne } from '@deploybus/all-in-one';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { startTestSystem, type TestSystem } from '../../../all-in-one/test/support/test-system.js';
import { EXIT } from '../src/cli-errors.js';

const CLI = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let started: TestSystem | undefined;
let system: AllInOne;
let dataDir = '';

interface Received {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}
const received: Received[] = [];
let receiver: Server;
let receiverUrl = '';

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  started = await startTestSystem('cli-subs');
  ({ system, dataDir } = started);
  await waitFor(
    'the staging agent to be up in the roster',
    async () => {
      const roster = await cli(['roster', '--json']);
      if (roster.exitCode !== 0) return false;
      return (JSON.parse(roster.stdout) as Array<{ service: string; host: string; state: string }>).some((e) => e.service === 'deploy-agent' && e.host === 'stage1' && e.state === 'up');
    },
    60_000,
  );
}, 120_000);

afterAll(async () => {
  await started?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

function cli(args: readonly string[]) {
  return execa(process.execPath, [CLI, ...args], {
    reject: false,
    extendEnv: false,
    stripFinalNewline: false,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], DEPLOYBUS_API_URL: system.webUrl, DEPLOYBUS_TOKEN_FILE: system.credentials.files.token },
  });
}

/** What a receiver does (the notifier README's recipe), written here again so the test checks the notifier. */
function validSignature(secret: string, r: Received): boolean {
  const timestamp = r.headers['x-deploybus-timestamp'];
  const signature = r.headers['x-deploybus-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string') return false;
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${timestamp}.${r.body}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected) && Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
}

interface CallbackBody {
  readonly id: string;
  readonly seq: number;
  readonly type: string;
  readonly deploymentId?: string;
  readonly subscription: string;
  readonly payload: { env?: string };
}

describe('deploybus subscriptions', () => {
  it('create makes and prints a secret once; a deploy\'s events arrive signed with it, in order; list, show and delete', async () => {
    const create = await cli(['subscriptions', 'create', `${receiverUrl}/hooks/a`, '--events', 'deploy.*,task.completed', '--app', 'demo', '--env', 'staging', '--description', 'the test receiver']);
    expect(create.exitCode, create.stderr).toBe(EXIT.ok);
    const id = /^subscribed (sub-[a-z0-9]+): /.exec(create.stdout)?.[1] ?? '';
    expect(id, create.stdout).not.toBe('');
    const secret = /^signing secret: (whsec_[A-Za-z0-9_-]{43})$/m.exec(create.stdout)?.[1] ?? '';
    expect(secret, create.stdout).not.toBe('');
    expect(create.stdout).toContain('it will not be shown again');

    const deploy = await cli(['deploy', 'demo', 'v1.1.0', '--env', 'staging', '--json']);
    expect(deploy.exitCode, deploy.stderr).toBe(EXIT.ok);
    const deploymentId = (JSON.parse(deploy.stdout.split('\n')[0] ?? '{}') as { deploymentId: string }).deploymentId;
    const mine = (): Received[] => received.filter((r) => r.path === '/hooks/a');
    const bodies = (): CallbackBody[] => mine().map((r) => JSON.parse(r.body) as CallbackBody);
    await waitFor('the receiver to get the deploy\'s deploy.succeeded', () => bodies().some((b) => b.type === 'deploy.succeeded' && b.deploymentId === deploymentId), 60_000);

    for (const r of mine()) expect(validSignature(secret, r), `signature of ${r.body}`).toBe(true);
    expect(validSignature(`${secret}x`, mine()[0] ?? { path: '', headers: {}, body: '' })).toBe(false);
    const got = bodies().filter((b) => b.deploymentId === deploymentId);
    expect(got.map((b) => b.type)).toEqual(expect.arrayContaining(['deploy.queued', 'deploy.started', 'task.completed', 'deploy.succeeded']));
    // Only what the filter asked for: deploy.* and task.completed of demo in staging, each once, in the log's order.
    expect(bodies().every((b) => (b.type.startsWith('deploy.') || b.type === 'task.completed') && b.subscription === id)).toBe(true);
    const seqs = bodies().map((b) => b.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(bodies().map((b) => b.id)).size).toBe(bodies().length);

    const list = await cli(['subs', 'list', '--json']);
    expect(list.exitCode, list.stderr).toBe(EXIT.ok);
    const listed = (JSON.parse(list.stdout) as Array<{ id: string; url: string; events: string[]; app?: string; env?: string; state: string; secret?: string }>).find((s) => s.id === id);
    expect(listed).toMatchObject({ url: `${receiverUrl}/hooks/a`, events: ['deploy.*', 'task.completed'], app: 'demo', env: 'staging', state: 'active' });
    expect(list.stdout).not.toContain(secret);
    const human = await cli(['subscriptions', 'list']);
    expect(human.stdout).toMatch(new RegExp(`^${id} +active +deploy\\.\\*,task\\.completed +demo +staging +#\\d+ +${receiverUrl}/hooks/a$`, 'm'));
    const show = await cli(['subscriptions', 'show', id]);
    expect(show.exitCode, show.stderr).toBe(EXIT.ok);
    expect(show.stdout).toMatch(/^description +the test receiver$/m);
    expect(show.stdout).not.toContain(secret);

    const del = await cli(['subscriptions', 'delete', id, '--json']);
    expect(del.exitCode, del.stderr).toBe(EXIT.ok);
    expect(JSON.parse(del.stdout)).toEqual({ id, deleted: true });
    const after = await cli(['subs', 'list', '--json']);
    expect((JSON.parse(after.stdout) as Array<{ id: string }>).map((s) => s.id)).not.toContain(id);
    const gone = await cli(['subscriptions', 'show', id]);
    expect(gone.exitCode).toBe(EXIT.notFound);
    expect(gone.stderr.trimEnd().split('\n')).toHaveLength(1);
    const enableGone = await cli(['subscriptions', 'enable', id]);
    expect(enableGone.exitCode).toBe(EXIT.notFound);
  }, 120_000);

  it('your own secret (from a file) signs the callbacks, and --json never prints it', async () => {
    const secretFile = join(dataDir, 'callback-secret');
    const own = 'my-own-secret-0123456789abcdef';
    writeFileSync(secretFile, `${own}\n`, { mode: 0o600 });
    const create = await cli(['subs', 'create', `${receiverUrl}/hooks/b`, '--events', 'deploy.succeeded', '--env', 'staging', '--secret-file', secretFile, '--json']);
    expect(create.exitCode, create.stderr).toBe(EXIT.ok);
    const made = JSON.parse(create.stdout) as { id: string; secret?: string; events: string[] };
    expect(made.secret).toBeUndefined();
    expect(made.events).toEqual(['deploy.succeeded']);
    const deploy = await cli(['deploy', 'demo', 'v1.0.0', '--env', 'staging', '--no-wait', '--json']);
    expect(deploy.exitCode, deploy.stderr).toBe(EXIT.ok);
    const deploymentId = (JSON.parse(deploy.stdout) as { deploymentId: string }).deploymentId;
    const mine = (): Received[] => received.filter((r) => r.path === '/hooks/b');
    await waitFor('the deploy.succeeded at /hooks/b', () => mine().some((r) => (JSON.parse(r.body) as CallbackBody).deploymentId === deploymentId), 60_000);
    expect(mine().every((r) => validSignature(own, r) && (JSON.parse(r.body) as CallbackBody).type === 'deploy.succeeded')).toBe(true);
    expect((await cli(['subs', 'delete', made.id])).exitCode).toBe(EXIT.ok);
  }, 120_000);

  it('a URL the allow-list refuses (cloud metadata) ends with 65 and one sentence naming url; bad usage with 64', async () => {
    const refused = await cli(['subscriptions', 'create', 'http://169.254.169.254/latest/meta-data', '--events', 'deploy.*']);
    expect(refused.exitCode, refused.stdout).toBe(EXIT.invalidInput);
    const lines = refused.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^deploybus: url: /);
    expect(refused.stdout).toBe('');
    const list = await cli(['subs', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([]);

    const noEvents = await cli(['subscriptions', 'create', `${receiverUrl}/x`]);
    expect(noEvents.exitCode).toBe(EXIT.usage);
    expect(noEvents.stderr).toContain('--events');
    const badType = await cli(['subscriptions', 'create', `${receiverUrl}/x`, '--events', 'deploy.*,DROP TABLE']);
    expect(badType.exitCode).toBe(EXIT.usage);
    const shortSecret = await cli(['subscriptions', 'create', `${receiverUrl}/x`, '--events', '*', '--secret', 'short']);
    expect(shortSecret.exitCode).toBe(EXIT.usage);
    expect(shortSecret.stderr).toMatch(/--secret: a secret is 16 to 256 characters/);
    const badId = await cli(['subscriptions', 'delete', 'nope']);
    expect(badId.exitCode).toBe(EXIT.usage);
    const unknown = await cli(['subscriptions', 'show', 'sub-00000000deadbeef']);
    expect(unknown.exitCode).toBe(EXIT.notFound);
  }, 60_000);

  it('without a notifier the API answers 503 and the CLI exits 69 saying so', async () => {
    await system.daemons.get('notifier')?.stop();
    const list = await cli(['subscriptions', 'list']);
    expect(list.exitCode).toBe(EXIT.unavailable);
    expect(list.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(list.stderr).toMatch(/notifier/);
  }, 60_000);
});
