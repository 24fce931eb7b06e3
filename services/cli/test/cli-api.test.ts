// The built CLI (`node services/cli/dist/main.js`, run `npx tsc -b` first) against the real system:
// startAllInOne on the in-memory bus in a temp data dir (conductor, keepalive, the demo fleet of real
// deploy-agents, the web API on a free port). Deploys with progress, refusals, bad usage, no token,
// --json, and the live tail, asserted on exit codes and what the CLI prints.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllInOne } from '@deploybus/all-in-one';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { startTestSystem, type TestSystem } from '../../../all-in-one/test/support/test-system.js';
import { EXIT } from '../src/cli-errors.js';
import { runCli } from '../src/cli-program.js';

const CLI = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const PRODUCTION = ['web1', 'web2', 'web3'];
let started: TestSystem | undefined;
let system: AllInOne;
let dataDir = '';

beforeAll(async () => {
  started = await startTestSystem('cli');
  ({ system, dataDir } = started);
  // A deploy needs the agents in keepalive's roster; the CLI's own roster command says when they are.
  await waitFor(
    'every demo agent to be up in the roster',
    async () => {
      const roster = await cli(['roster', '--json']);
      if (roster.exitCode !== 0) return false;
      const up = (JSON.parse(roster.stdout) as Array<{ service: string; host: string; state: string }>).filter((e) => e.service === 'deploy-agent' && e.state === 'up').map((e) => e.host);
      return [...PRODUCTION, 'stage1'].every((h) => up.includes(h));
    },
    60_000,
  );
}, 120_000);

afterAll(async () => {
  await started?.stop();
});

/** The environment a script would have: where the API is and a token file; nothing else of ours. */
function apiEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { PATH: process.env['PATH'], HOME: process.env['HOME'], DEPLOYBUS_API_URL: system.webUrl, DEPLOYBUS_TOKEN_FILE: system.credentials.files.token, ...extra };
}

const CLI_OPTIONS = { reject: false, extendEnv: false, stripFinalNewline: false } as const;

// The result's type is execa's, inferred from the options.
function cli(args: readonly string[], env: Record<string, string | undefined> = apiEnv()) {
  return execa(process.execPath, [CLI, ...args], { ...CLI_OPTIONS, env });
}

describe('deploybus deploy against the demo fleet', () => {
  it('follows a deploy to its end: one line per host, exit 0; status, history and logs show it', async () => {
    const run = await cli(['deploy', 'demo', 'v1.1.0', '--env', 'production', '--batch', '2']);
    expect(run.exitCode, run.stderr).toBe(EXIT.ok);
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    const id = /^(\S+): demo v1\.1\.0 \([0-9a-f]{10}\) to production/.exec(lines[0] ?? '')?.[1];
    expect(id, run.stdout).toBeDefined();
    expect(lines).toContain('batch 1/2: web1, web2');
    for (const host of PRODUCTION) expect(lines.some((l) => l.startsWith(`${host}  succeeded  `)), `${host} in\n${run.stdout}`).toBe(true);
    expect(lines.some((l) => l.startsWith('succeeded: v1.1.0, 3 host(s) deployed'))).toBe(true);
    // Not a terminal: no progress bar, no cursor movement.
    expect(run.stdout).not.toContain('\r');
    expect(run.stdout).not.toContain('\u001b');

    const history = await cli(['history', 'demo', '--env', 'production', '--json']);
    expect(history.exitCode).toBe(0);
    expect((JSON.parse(history.stdout) as Array<{ deploymentId: string; state: string; requestedBy: string }>)[0]).toMatchObject({ deploymentId: id, state: 'succeeded', requestedBy: 'demo-token' });
    const status = await cli(['status', 'demo', '--env', 'production', '--json']);
    expect(status.exitCode, status.stderr).toBe(0);
    const matrix = (JSON.parse(status.stdout) as { matrices: Array<{ hosts: Array<{ host: string; ref: string }> }> }).matrices[0];
    expect(matrix?.hosts.filter((h) => h.ref === 'v1.1.0').map((h) => h.host).sort()).toEqual(PRODUCTION);
    const human = await cli(['status', 'demo', '--env', 'production']);
    expect(human.stdout).toContain('Releases of demo in production, last deployed v1.1.0');
    const logs = await cli(['logs', id ?? '', '--host', 'web2', '--json']);
    expect(logs.exitCode, logs.stderr).toBe(0);
    const logLines = JSON.parse(logs.stdout) as Array<{ host: string; line: string }>;
    const none = await cli(['logs', 'd-000000000000000000000000']);
    expect(none.exitCode, none.stderr).toBe(EXIT.notFound);
    expect(none.stderr).toContain('d-000000000000000000000000');
    expect(logLines.length).toBeGreaterThan(0);
    expect(new Set(logLines.map((l) => l.host))).toEqual(new Set(['web2']));
  }, 120_000);

  it('--json: one JSON object per line, the queued answer first and the outcome last', async () => {
    const run = await cli(['deploy', 'demo', 'v1.0.0', '--env', 'staging', '--json', '--verbose']);
    expect(run.exitCode, run.stderr).toBe(EXIT.ok);
    const objects = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objects[0]).toMatchObject({ app: 'demo', env: 'staging', ref: 'v1.0.0', status: 'queued' });
    const id = objects[0]?.['deploymentId'];
    expect(objects.at(-1)).toMatchObject({ deploymentId: id, outcome: { state: 'succeeded', succeededHosts: ['stage1'], failedHosts: [] } });
    const types = objects.slice(1, -1).map((o) => o['type']);
    expect(types).toContain('deploy.started');
    expect(types).toContain('deploy.host-result');
    expect(types).toContain('task.completed');
    expect(types.at(-1)).toBe('deploy.succeeded');
    expect(types[0]).toBe('deploy.queued');
    // Without --verbose, no steps: what a person would see, as JSON.
    const quiet = await cli(['deploy', 'demo', 'v1.1.0', '--env', 'staging', '--json']);
    expect(quiet.exitCode, quiet.stderr).toBe(EXIT.ok);
    const quietTypes = quiet.stdout.trim().split('\n').slice(1, -1).map((l) => (JSON.parse(l) as { type: string }).type);
    expect(quietTypes).toContain('deploy.host-result');
    expect(quietTypes.filter((t) => t.startsWith('task.'))).toEqual([]);
  }, 120_000);

  it('draws a progress bar on a terminal (in-process, the same code as the built CLI)', async () => {
    let out = '';
    let err = '';
    const code = await runCli(['deploy', 'demo', 'v1.2.0', '--env', 'staging'], {
      env: { DEPLOYBUS_API_URL: system.webUrl, DEPLOYBUS_TOKEN_FILE: system.credentials.files.token },
      cwd: dataDir,
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      readStdin: () => Promise.resolve(''),
      nodePath: process.execPath,
      cliPath: CLI,
      stdoutIsTty: true,
      columns: 60,
    });
    expect(code, err).toBe(EXIT.ok);
    expect(out).toContain('started: v1.2.0 ');
    expect(out).toContain('[----------------------------------------] 0/1 hosts\r\u001b[2Kbatch 1/1: stage1\n');
    expect(out).toContain('\r\u001b[2Kstage1  succeeded  ');
    expect(out).toContain('[########################################] 1/1 hosts');
    expect(out).not.toContain('0/0 hosts');
    // The bar is gone at the end: the last thing written is the outcome line.
    expect(out).toMatch(/succeeded: v1\.2\.0, 1 host\(s\) deployed, in [^\n]*\n$/);
  }, 120_000);

  it('logs --follow prints a running deployment\'s output as it comes and ends with it (exit 0)', async () => {
    const queued = await cli(['deploy', 'demo', 'v1.0.0', '--env', 'staging', '--no-wait', '--json']);
    expect(queued.exitCode, queued.stderr).toBe(EXIT.ok);
    const id = (JSON.parse(queued.stdout) as { deploymentId: string }).deploymentId;
    const follow = await cli(['logs', id, '--follow']);
    expect(follow.exitCode, follow.stderr).toBe(EXIT.ok);
    const lines = follow.stdout.trimEnd().split('\n');
    expect(lines.some((l) => / stage1 \| now serving 1\.0\.0$/.test(l)), follow.stdout).toBe(true);
    expect(new Set(lines).size).toBe(lines.length); // recorded and live lines overlap; each is printed once
    const detail = await cli(['history', 'demo', '--env', 'staging', '--limit', '1', '--json']);
    expect((JSON.parse(detail.stdout) as Array<{ deploymentId: string; state: string }>)[0]).toMatchObject({ deploymentId: id, state: 'succeeded' });
  }, 120_000);

  it('Ctrl-C while following stops following, not the deploy: exit 130 and how to go on', async () => {
    let out = '';
    let err = '';
    const interrupted = new AbortController();
    interrupted.abort(); // as if Ctrl-C came the moment the deploy was queued
    const code = await runCli(['deploy', 'demo', 'v1.1.0', '--env', 'staging'], {
      env: { DEPLOYBUS_API_URL: system.webUrl, DEPLOYBUS_TOKEN_FILE: system.credentials.files.token },
      cwd: dataDir,
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      readStdin: () => Promise.resolve(''),
      nodePath: process.execPath,
      cliPath: CLI,
      signal: interrupted.signal,
    });
    expect(code).toBe(EXIT.interrupted);
    const id = /^(\S+): demo v1\.1\.0/.exec(out)?.[1] ?? '';
    expect(err).toBe(`deploybus: stopped following; deployment ${id} goes on (watch it: deploybus logs ${id} --follow; stop it: deploybus cancel ${id})\n`);
    await waitFor('the deploy to finish anyway', async () => {
      const history = await cli(['history', 'demo', '--env', 'staging', '--limit', '5', '--json']);
      return (JSON.parse(history.stdout) as Array<{ deploymentId: string; state: string }>).some((d) => d.deploymentId === id && d.state === 'succeeded');
    }, 60_000);
  }, 120_000);

  it('rolls back to the previous release', async () => {
    const first = await cli(['deploy', 'demo', 'v1.2.0', '--env', 'production', '--batch', '100%']);
    expect(first.exitCode, first.stderr).toBe(EXIT.ok);
    const back = await cli(['rollback', 'demo', '--env', 'production']);
    expect(back.exitCode, back.stderr).toBe(EXIT.ok);
    expect(back.stdout).toMatch(/: demo v1\.1\.0 .* to production/);
    expect(back.stdout).toContain('succeeded: v1.1.0, 3 host(s) deployed');
  }, 120_000);
});

describe('a deploy that fails', () => {
  it('ends with exit 1, the failed host\'s line, and the reason in one sentence on stderr', async () => {
    // A release without index.html fails the demo's health check (test -s index.html).
    const work = system.repo.work;
    const git = (...args: string[]): string =>
      execFileSync('git', args, { cwd: work, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@e.st', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@e.st' } }).trim();
    const stateFile = join(dataDir, 'git-watcher', 'state.json');
    await waitFor('git-watcher to know the demo repository', () => existsSync(stateFile) && readFileSync(stateFile, 'utf8').includes('refs/heads/main'), 60_000);
    git('rm', '--quiet', 'index.html');
    git('commit', '--quiet', '-m', 'Release 9.0.0 without a page');
    git('tag', 'v9.0.0');
    git('push', '--quiet', 'origin', 'main', '--tags');
    const sha = git('rev-parse', 'HEAD');
    // Built (the stand-in builds pushed branches) and fetched into stage1's mirror before deploying.
    await waitFor(
      'stage1\'s mirror to hold v9.0.0',
      () => {
        try {
          return execFileSync('git', ['rev-parse', 'v9.0.0^{commit}'], { cwd: join(dataDir, 'servers', 'stage1', 'mirrors', 'demo.git'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === sha;
        } catch {
          return false;
        }
      },
      60_000,
    );
    let run = await cli(['deploy', 'demo', 'v9.0.0', '--env', 'staging']);
    await waitFor('the build gate to let v9.0.0 through', async () => {
      if (run.exitCode === EXIT.refused && run.stderr.includes('build_not_passed')) run = await cli(['deploy', 'demo', 'v9.0.0', '--env', 'staging']);
      return run.exitCode !== EXIT.refused;
    }, 60_000);
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(EXIT.failed);
    const id = /^(\S+): demo v9\.0\.0/.exec(run.stdout)?.[1] ?? '';
    expect(run.stdout.split('\n').some((l) => /^stage1 {2}(failed|rolled-back)/.test(l)), run.stdout).toBe(true);
    expect(run.stdout).toMatch(/\nfailed: .*; 0 host\(s\) deployed, 1 not \(stage1\)\n$/);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`^deploybus: deployment ${id} failed: .*stage1`));
    const history = await cli(['history', 'demo', '--env', 'staging', '--limit', '1', '--json']);
    expect((JSON.parse(history.stdout) as Array<{ deploymentId: string; state: string }>)[0]).toMatchObject({ deploymentId: id, state: 'failed' });
  }, 180_000);
});

describe('deploybus refusals, bad usage and credentials', () => {
  it('a locked environment refuses the deploy: exit 2 and one sentence naming the lock; unlock lets it through', async () => {
    const lock = await cli(['lock', 'production', '--reason', 'release freeze']);
    expect(lock.exitCode, lock.stderr).toBe(EXIT.ok);
    expect(lock.stdout).toBe('locked production: release freeze\n');
    const status = await cli(['status', '--env', 'production']);
    expect(status.stdout).toMatch(/production\s+\(all\)\s+demo-token\s+\S+ \S+\s+release freeze/);

    const refused = await cli(['deploy', 'demo', 'v1.0.0', '--env', 'production']);
    expect(refused.exitCode).toBe(EXIT.refused);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^deploybus: refused \(locked\): .*release freeze/i);

    const twice = await cli(['lock', 'production', '--reason', 'again']);
    expect(twice.exitCode).toBe(EXIT.refused);
    expect(twice.stderr).toMatch(/^deploybus: refused \(already_locked\): production is already locked by demo-token/);
    const unlock = await cli(['unlock', 'production']);
    expect(unlock.exitCode, unlock.stderr).toBe(EXIT.ok);
    const notLocked = await cli(['unlock', 'production', '--json']);
    expect(notLocked.exitCode).toBe(EXIT.notFound);
    expect(notLocked.stderr).toBe('deploybus: production is not locked\n');
  }, 120_000);

  it('bad usage ends with 64 before anything is sent, and a field the API refuses with 65', async () => {
    const usage = await cli(['deploy', 'demo', 'v1.0.0', '--env', 'production', '--batch', 'half']);
    expect(usage.exitCode).toBe(EXIT.usage);
    expect(usage.stderr).toContain("option '--batch <size>' argument 'half' is invalid");
    // The CLI checks what it knows; the API checks the rest and names the field.
    const field = await cli(['cancel', 'x']);
    expect(field.exitCode).toBe(EXIT.invalidInput);
    expect(field.stderr).toMatch(/^deploybus: id: must be a deployment id .*\n$/);
    const unknown = await cli(['cancel', 'no-such-deployment-1']);
    expect(unknown.exitCode).toBe(EXIT.notFound);
    expect(unknown.stderr).toBe('deploybus: there is no deployment no-such-deployment-1\n');
  }, 60_000);

  it('without a token the API answers 401 and the CLI says how to give one (77); a wrong token says so', async () => {
    const none = await cli(['history'], apiEnv({ DEPLOYBUS_TOKEN_FILE: undefined }));
    expect(none.exitCode).toBe(EXIT.unauthorized);
    expect(none.stderr).toBe("deploybus: the API needs a token; give an API token with --token-file FILE, DEPLOYBUS_TOKEN_FILE, DEPLOYBUS_TOKEN or --token (tokens are in the web config's `tokens`)\n");
    const wrong = await cli(['history', '--token', 'not-the-token'], apiEnv({ DEPLOYBUS_TOKEN_FILE: undefined }));
    expect(wrong.exitCode).toBe(EXIT.unauthorized);
    expect(wrong.stderr).toMatch(/^deploybus: the API did not accept the token; check the token/);
    expect(`${none.stderr}${wrong.stderr}`).not.toMatch(/\n\s+at /); // never a stack trace
  }, 60_000);
});

describe('deploybus tail', () => {
  it('prints live deploy events, one JSON object per line, until Ctrl-C (exit 0)', async () => {
    const tail = cli(['tail', '--type', 'deploy.*', '--env', 'staging', '--json']);
    const seen: Array<{ type: string; payload: { env?: string } }> = [];
    let buffer = '';
    tail.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) seen.push(JSON.parse(line) as { type: string; payload: { env?: string } });
    });
    // The tail is connected once a deploy's events reach it; deploy until one does (the first may come before it listens).
    await waitFor(
      'the tail to print a staging deploy\'s deploy.succeeded',
      async () => {
        if (seen.some((e) => e.type === 'deploy.succeeded')) return true;
        const run = await cli(['deploy', 'demo', 'v1.1.0', '--env', 'staging', '--no-wait']);
        expect(run.exitCode, run.stderr).toBe(EXIT.ok);
        await new Promise((r) => setTimeout(r, 500));
        return seen.some((e) => e.type === 'deploy.succeeded');
      },
      60_000,
    );
    // Filtered: staging only, deploy.* only; production's deploys in other tests never show.
    expect(seen.every((e) => e.type.startsWith('deploy.') && e.payload.env === 'staging')).toBe(true);
    tail.kill('SIGINT');
    const ended = await tail;
    expect(ended.exitCode).toBe(EXIT.ok);
    expect(ended.stderr).toBe('');
  }, 120_000);

  it('a stream cut mid-way is reopened after the last live event seen: the deploy it missed is printed whole, each event once', async () => {
    // A TCP proxy in front of the API that the test can cut and hold down, as a flaky network would.
    const web = new URL(system.webUrl);
    const open = new Set<Socket>();
    let down = false;
    const proxy: Server = createServer((client) => {
      if (down) return void client.destroy();
      const upstream = connect(Number(web.port), web.hostname);
      for (const s of [client, upstream]) {
        open.add(s);
        s.on('close', () => open.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const port = (proxy.address() as { port: number }).port;
      const tail = cli(['tail', '--type', 'deploy.*', '--env', 'staging', '--json'], apiEnv({ DEPLOYBUS_API_URL: `http://127.0.0.1:${port}` }));
      const seen: Array<{ id: string; type: string; payload: { env?: string; deploymentId?: string } }> = [];
      let buffer = '';
      tail.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) seen.push(JSON.parse(line) as (typeof seen)[number]);
      });
      await waitFor(
        'the tail to print a staging deploy.succeeded',
        async () => {
          if (seen.some((e) => e.type === 'deploy.succeeded')) return true;
          expect((await cli(['deploy', 'demo', 'v1.0.0', '--env', 'staging', '--no-wait'])).exitCode).toBe(EXIT.ok);
          await new Promise((r) => setTimeout(r, 500));
          return seen.some((e) => e.type === 'deploy.succeeded');
        },
        60_000,
      );
      // Cut, and stay down while a whole deploy happens.
      down = true;
      for (const s of open) s.destroy();
      const missed = await cli(['deploy', 'demo', 'v1.1.0', '--env', 'staging', '--json']);
      expect(missed.exitCode, missed.stderr).toBe(EXIT.ok);
      const missedId = (JSON.parse(missed.stdout.split('\n')[0] ?? '{}') as { deploymentId: string }).deploymentId;
      expect(seen.some((e) => e.payload.deploymentId === missedId)).toBe(false);
      down = false;
      await waitFor('the missed deploy\'s deploy.succeeded after the reconnect', () => seen.some((e) => e.type === 'deploy.succeeded' && e.payload.deploymentId === missedId), 60_000);

      // Exactly what the ledger holds of it, in order, once (live events the ledger never records, like deploy.requested, are not replayed).
      const token = readFileSync(system.credentials.files.token, 'utf8').trim();
      const ledger = (await (await fetch(`${system.webUrl}/api/events?after=0&deploymentId=${missedId}&types=deploy.*`, { headers: { authorization: `Bearer ${token}` } })).json()) as { events: Array<{ id: string }> };
      expect(seen.filter((e) => e.payload.deploymentId === missedId && e.type !== 'deploy.requested').map((e) => e.id)).toEqual(ledger.events.map((e) => e.id));
      const types = seen.filter((e) => e.payload.deploymentId === missedId).map((e) => e.type);
      expect(types[0]).toBe('deploy.queued');
      expect(types).toContain('deploy.started');
      expect(types).toContain('deploy.host-result');
      expect(types.filter((t) => t === 'deploy.succeeded')).toHaveLength(1);
      expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
      expect(seen.every((e) => e.type.startsWith('deploy.') && e.payload.env === 'staging')).toBe(true);
      tail.kill('SIGINT');
      const ended = await tail;
      expect(ended.exitCode).toBe(EXIT.ok);
      expect(ended.stderr).toContain('trying again');
      expect(ended.stderr).toContain('event stream back');
      expect(ended.stderr).not.toContain('could not be replayed');
    } finally {
      for (const s of open) s.destroy();
      await new Promise((r) => proxy.close(r));
    }
  }, 120_000);
});
