// The hook against real repositories: install it, `git push` for real, and check what was published or
// spooled; hostile refs pushed for real run nothing; install refuses what it must.
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import { DiskSpool } from '@deploybus/runtime';
import { HOOK_MARKER, runHook } from '../src/index.js';
import { cli, commit, git, gitPush, requireBuiltCli, sandbox, type Sandbox } from './hook-support.js';
import { randomName, sleep, waitFor } from '../../../packages/bus/test/support/wait-for.js';

const ZERO = '0000000000000000000000000000000000000000';
// Nothing listens on port 1: the bus is unreachable at once.
const DEAD_BUS = 'amqp://127.0.0.1:1';
const FAST = { DEPLOYBUS_HOOK_TIMEOUT_MS: '500' };

let box: Sandbox;
let bus: Bus;
let busUrl: string;
let received: Message[];

beforeAll(() => requireBuiltCli());

beforeEach(async () => {
  box = sandbox();
  busUrl = `memory://${randomName('hook')}`;
  bus = await connectBus(busUrl, { service: 'test', host: 'test' });
  received = [];
  await bus.subscribe({ patterns: ['commit.pushed.#'] }, (m) => void received.push(m));
});

afterEach(async () => {
  await bus.close();
  box.remove();
});

const spoolOf = (bare: string): DiskSpool => new DiskSpool(join(bare, 'deploybus-spool'));
const payloads = (): Array<Extract<Message, { type: 'commit.pushed' }>['payload']> => received.flatMap((m) => (m.type === 'commit.pushed' ? [m.payload] : []));

describe('post-receive hook with the bus unreachable', () => {
  it('lets the push succeed, spools one event per ref with the right commits, and a later drain publishes each exactly once', async () => {
    const install = await cli(['hook', 'install', box.bare, '--bus-url', DEAD_BUS]);
    expect(install.code).toBe(0);
    const first = commit(box.work, 'first');
    const second = commit(box.work, 'second');
    git(box.work, 'tag', 'v1.0.0', first);
    const push = await gitPush(box.work, FAST, 'origin', 'main', 'v1.0.0');
    expect(push.stderr).toContain('spooled 2 event(s)');

    const spool = spoolOf(box.bare);
    expect(await spool.pending()).toBe(2);
    const drained = await spool.drain((m) => bus.publish(m));
    expect(drained).toEqual({ sent: 2, failed: 0, rejected: 0 });
    await waitFor('both events', () => received.length === 2);
    const main = payloads().find((p) => p.ref === 'refs/heads/main');
    expect(main).toEqual({
      repo: 'shop',
      ref: 'refs/heads/main',
      before: ZERO,
      after: second,
      commits: [
        { sha: first, author: 'Ada <ada@example.com>', subject: 'first' },
        { sha: second, author: 'Ada <ada@example.com>', subject: 'second' },
      ],
      pusher: expect.any(String) as string,
      origin: 'post-receive',
    });
    expect(payloads().find((p) => p.ref === 'refs/tags/v1.0.0')).toMatchObject({ before: ZERO, after: first });
    expect(await spool.drain((m) => bus.publish(m))).toEqual({ sent: 0, failed: 0, rejected: 0 });
    await sleep(50);
    expect(received).toHaveLength(2);

    // An update publishes only the new commits; a deleted tag publishes with after = zeros.
    const third = commit(box.work, 'third');
    await gitPush(box.work, FAST, 'origin', 'main', ':refs/tags/v1.0.0');
    await spool.drain((m) => bus.publish(m));
    await waitFor('two more events', () => received.length === 4);
    expect(payloads()[2]?.ref === 'refs/heads/main' ? payloads()[2] : payloads()[3]).toMatchObject({ before: second, after: third, commits: [{ sha: third, subject: 'third' }] });
    expect(payloads().find((p) => p.ref === 'refs/tags/v1.0.0' && p.after === ZERO)).toMatchObject({ commits: [] });
  });

  it('has the next hook run drain what an earlier one spooled, before publishing its own event', async () => {
    await cli(['hook', 'install', box.bare, '--bus-url', DEAD_BUS]);
    const first = commit(box.work, 'first');
    await gitPush(box.work, FAST, 'origin', 'main');
    const spooled = JSON.parse(readFileSync(join(box.bare, 'deploybus-spool', readdirSync(join(box.bare, 'deploybus-spool'))[0] ?? ''), 'utf8')) as Message;

    // The next run reaches the bus (in this process, so the memory bus is shared).
    const second = commit(box.work, 'second');
    rmSync(join(box.bare, 'hooks', 'post-receive'));
    await gitPush(box.work, {}, 'origin', 'main');
    const lines: string[] = [];
    const result = await runHook({ kind: 'post-receive', cwd: box.bare, env: {}, input: `${first} ${second} refs/heads/main\n`, busUrl, report: (l) => void lines.push(l) });
    expect(result).toMatchObject({ drained: 1, published: 1, spooled: 0 });
    await waitFor('both events', () => received.length === 2);
    expect(received[0]?.id).toBe(spooled.id); // the spooled message, with its id unchanged
    expect(payloads()[1]).toMatchObject({ before: first, after: second, commits: [{ sha: second }] });
    expect(await spoolOf(box.bare).pending()).toBe(0);
  });
});

describe('hostile refs', () => {
  it('are skipped with a reason when pushed for real; the other refs still publish; nothing runs', async () => {
    await cli(['hook', 'install', box.bare, '--bus-url', DEAD_BUS]);
    const sha = commit(box.work, 'first');
    const markers = ['x-marker-1', 'x-marker-2'];
    const push = await gitPush(box.work, FAST, 'origin', 'main', `HEAD:refs/heads/$(touch\${IFS}${markers[0]})`, `HEAD:refs/heads/a\`touch\${IFS}${markers[1]}\``, 'HEAD:refs/heads/--upload-pack=touch');
    expect(push.stderr.match(/skipped input line/g)).toHaveLength(3);
    expect(push.stderr).toContain('spooled 1 event(s)');
    for (const marker of markers) for (const dir of [box.bare, box.work, box.dir, process.cwd()]) expect(existsSync(join(dir, marker))).toBe(false);
    await spoolOf(box.bare).drain((m) => bus.publish(m));
    await waitFor('the main event', () => received.length === 1);
    expect(payloads()[0]).toMatchObject({ ref: 'refs/heads/main', after: sha });
  });

  it('in hook input, including ../../etc and malformed lines: reported, skipped, exit 0', async () => {
    const sha = commit(box.work, 'first');
    await gitPush(box.work, {}, 'origin', 'main');
    const input = [`${ZERO} ${sha} --upload-pack=touch /tmp/x`, `${ZERO} ${sha} $(touch /tmp/deploybus-x-marker)`, `${ZERO} ${sha} ../../etc`, 'not a line', `${ZERO} ${sha} refs/heads/main`].join('\n');
    const run = await cli(['hook', 'post-receive', '--bus-url', busUrl], { cwd: box.bare, stdin: input });
    expect(run.code).toBe(0);
    expect(run.stderr.match(/skipped input line/g)).toHaveLength(4);
    await waitFor('the good ref', () => received.length === 1);
    expect(payloads()[0]).toMatchObject({ ref: 'refs/heads/main' });
    expect(existsSync('/tmp/deploybus-x-marker')).toBe(false);
  });
});

describe('post-commit hook', () => {
  it('spools an event for the new HEAD with before = its parent', async () => {
    const install = await cli(['hook', 'install', box.work, '--type', 'post-commit', '--bus-url', DEAD_BUS, '--repo', 'shop-work', '--json']);
    expect(install.code).toBe(0);
    expect(JSON.parse(install.stdout)).toEqual({ type: 'post-commit', path: join(box.work, '.git', 'hooks', 'post-commit'), hooksDir: join(box.work, '.git', 'hooks'), replaced: null, chained: null, mode: '0755' });
    const first = commit(box.work, 'first'); // a real commit runs the hook: before = zeros
    const second = commit(box.work, 'second');
    await new DiskSpool(join(box.work, '.git', 'deploybus-spool')).drain((m) => bus.publish(m));
    await waitFor('two events', () => received.length === 2);
    expect(payloads()[0]).toMatchObject({ repo: 'shop-work', ref: 'refs/heads/main', before: ZERO, after: first, origin: 'post-commit' });
    expect(payloads()[1]).toMatchObject({ before: first, after: second, commits: [{ sha: second, subject: 'second' }], origin: 'post-commit' });
  });
});

describe('hook install', () => {
  it('writes an executable script with absolute paths, marked as deploybus\'s', async () => {
    const run = await cli(['hook', 'install', box.bare, '--repo', 'shop']);
    expect(run).toMatchObject({ code: 0 });
    const path = join(box.bare, 'hooks', 'post-receive');
    const script = readFileSync(path, 'utf8');
    expect(script).toContain(HOOK_MARKER);
    expect(script).toContain(`'${process.execPath}'`);
    expect(statSync(path).mode & 0o111).not.toBe(0);
    // Re-installing over its own hook is fine.
    expect((await cli(['hook', 'install', box.bare, '--repo', 'shop2'])).code).toBe(0);
    expect(readFileSync(path, 'utf8')).toContain("--repo 'shop2'");
  });

  it('makes the hook owner-only when the bus URL holds a password', async () => {
    await cli(['hook', 'install', box.bare, '--bus-url', 'amqp://user:pw@127.0.0.1:5672']);
    expect(statSync(join(box.bare, 'hooks', 'post-receive')).mode & 0o777).toBe(0o700);
  });

  it('refuses a foreign hook (exit 1), chains it with --chain, replaces it with --force', async () => {
    const path = join(box.bare, 'hooks', 'post-receive');
    const foreign = `#!/bin/sh\ncat > "${join(box.dir, 'foreign-saw')}"\n`;
    writeFileSync(path, foreign);
    chmodSync(path, 0o755);
    const refused = await cli(['hook', 'install', box.bare]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--chain');
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(path, 'utf8')).toBe(foreign);

    expect((await cli(['hook', 'install', box.bare, '--chain', '--bus-url', DEAD_BUS])).code).toBe(0);
    const sha = commit(box.work, 'first');
    const push = await gitPush(box.work, FAST, 'origin', 'main');
    expect(readFileSync(join(box.dir, 'foreign-saw'), 'utf8')).toBe(`${ZERO} ${sha} refs/heads/main\n`);
    expect(push.stderr).toContain('spooled 1 event(s)');

    writeFileSync(path, foreign); // someone put a foreign hook back
    expect((await cli(['hook', 'install', box.bare, '--force'])).code).toBe(0);
    expect(readFileSync(`${path}.deploybus-replaced`, 'utf8')).toBe(foreign);
    expect(readFileSync(path, 'utf8')).toContain(HOOK_MARKER);
  });

  it('respects core.hooksPath', async () => {
    git(box.bare, 'config', 'core.hooksPath', join(box.dir, 'shared-hooks'));
    expect((await cli(['hook', 'install', box.bare])).code).toBe(0);
    expect(readFileSync(join(box.dir, 'shared-hooks', 'post-receive'), 'utf8')).toContain(HOOK_MARKER);
    expect(existsSync(join(box.bare, 'hooks', 'post-receive'))).toBe(false);
  });

  it('refuses values that could break out of the script (exit 64) and writes nothing', async () => {
    for (const args of [['--repo', "x'; touch /tmp/x; '"], ['--bus-url', "amqp://h/'$(touch /tmp/x)'"], ['--spool', 'relative/dir'], ['--type', 'pre-receive']]) {
      const run = await cli(['hook', 'install', box.bare, ...args]);
      expect(run.code, args.join(' ')).toBe(64);
    }
    expect(existsSync(join(box.bare, 'hooks', 'post-receive'))).toBe(false);
  });

  it('says in one sentence when the path is not a repository (exit 1), and --help exits 0', async () => {
    const run = await cli(['hook', 'install', join(box.dir, 'nowhere')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^deploybus: .*nowhere does not exist/);
    expect(run.stderr).not.toContain('    at ');
    const help = await cli(['hook', 'install', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--chain');
  });
});
