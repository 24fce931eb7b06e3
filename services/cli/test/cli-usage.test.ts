// The command line itself, in-process: bad usage ends before anything is sent (64), every API command
// has --json, --help with examples, and errors are one sentence with the exit code of their kind.
import { createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli-program.js';
import { EXIT } from '../src/cli-errors.js';
import { resolveApiLocation } from '../src/api-options.js';
import { DAEMON_COMMANDS } from '../src/daemon-commands.js';
import { DAEMON_NAMES } from '@deploybus/all-in-one';

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { env, cwd: tmpdir(), stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: () => Promise.resolve(''), nodePath: process.execPath, cliPath: '/nonexistent/main.js' });
  return { code, out, err };
}

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const API_COMMANDS = ['deploy', 'rollback', 'cancel', 'status', 'history', 'logs', 'lock', 'unlock', 'tail', 'roster'];

describe('usage', () => {
  it.each([
    [['deploy', 'demo', 'v1.0.0'], "required option '-e, --env <env>' not specified"],
    [['deploy', 'demo', 'v1.0.0', '--env', 'production', '--batch', '0'], 'must be a number of hosts (1 or more) or a percentage from 1% to 100%'],
    [['deploy', 'demo', 'v1.0.0', '--env', 'production', '--batch', '150%'], 'percentage from 1% to 100%'],
    [['deploy', 'demo', 'v1.0.0', '--env', 'production', '--hosts', 'web1,,web2'], 'without empty items'],
    [['deploy', 'demo', 'v1..0', '--env', 'production'], "value 'v1..0' is invalid for argument 'ref'"],
    [['deploy', 'de mo', 'v1', '--env', 'production'], "value 'de mo' is invalid for argument 'app'"],
    [['deploy', 'demo', 'v1', '--env', 'production', '--canary', '-1'], "'--canary <n>' argument '-1' is invalid"],
    [['history', '--limit', '5000'], 'must be a whole number from 1 to 1000'],
    [['deploy', 'demo', 'v1', '--env', 'production', '--pattern', 'web*,[[['], 'is not a host pattern: a host pattern holds only letters'],
    [['logs', 'some-deployment-1', '--tail', '5', '--offset', '3'], 'give --tail or --offset, not both'],
    [['lock', 'production'], "required option '-r, --reason <text>' not specified"],
    [['tail', '--type', 'deploy..x'], 'is not an event type'],
    [['launch'], "unknown command 'launch'"],
  ])('%j ends with exit 64 and says why', async (args, why) => {
    const result = await cli(args);
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toContain(why);
    expect(result.out).toBe('');
  });

  it('gives every API command --json, the API options and examples in --help', async () => {
    for (const command of API_COMMANDS) {
      const help = await cli([command, '--help']);
      expect(help.code, command).toBe(0);
      for (const text of ['--json', '--api <url>', '--token-file <file>', 'Examples:', `deploybus ${command}`]) expect(help.out, `${command} --help`).toContain(text);
    }
    const top = await cli(['--help']);
    expect(top.out).toContain('Exit status: 0 ok, 1 failed, 2 refused, 3 cancelled');
    for (const name of ['up', 'conductor', 'deploy-agent', 'keepalive', 'git-watcher', 'jenkins-trigger', 'repo-updater', 'web', ...API_COMMANDS]) expect(top.out).toMatch(new RegExp(`\\n  ${name} `));
  });

  it('shows examples in the --help of every other command too', async () => {
    for (const args of [['up'], ['keepalive'], ['conductor'], ['hook', 'install'], ['hook', 'post-receive'], ['hook', 'post-commit'], ['keys', 'generate']]) {
      const help = await cli([...args, '--help']);
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.out, args.join(' ')).toMatch(/\n(Examples:|Usually run by the hook)/);
    }
  });

  it('has a command for each daemon the all-in-one knows, and no other', () => {
    expect(Object.keys(DAEMON_COMMANDS).sort()).toEqual([...DAEMON_NAMES].sort());
  });
});

describe('reaching the API', () => {
  it('says in one sentence that nothing answers, and exits 69', async () => {
    const port = await deadPort();
    const result = await cli(['status', '--api', `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.err).toBe(`deploybus: cannot reach the deploybus API at http://127.0.0.1:${port} (ECONNREFUSED); is it running? Point --api or DEPLOYBUS_API_URL at it\n`);
  });

  it('takes --api, then DEPLOYBUS_API_URL, then the default; the token from --token, --token-file, DEPLOYBUS_TOKEN, DEPLOYBUS_TOKEN_FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-token-'));
    try {
      await writeFile(join(dir, 'token'), 's3cret-from-file\n');
      expect(resolveApiLocation({}, {}, dir)).toEqual({ baseUrl: 'http://127.0.0.1:8600', token: undefined });
      expect(resolveApiLocation({}, { DEPLOYBUS_API_URL: 'https://deploy.example/base/', DEPLOYBUS_TOKEN: 'env-token' }, dir)).toEqual({ baseUrl: 'https://deploy.example/base', token: 'env-token' });
      expect(resolveApiLocation({ api: 'http://h:1', tokenFile: 'token' }, { DEPLOYBUS_API_URL: 'http://other', DEPLOYBUS_TOKEN: 'env-token' }, dir)).toEqual({ baseUrl: 'http://h:1', token: 's3cret-from-file' });
      expect(resolveApiLocation({}, { DEPLOYBUS_TOKEN_FILE: join(dir, 'token') }, '/')).toEqual({ baseUrl: 'http://127.0.0.1:8600', token: 's3cret-from-file' });
      const missing = await cli(['roster', '--token-file', join(dir, 'nope')]);
      expect(missing.code).toBe(EXIT.config);
      expect(missing.err).toBe(`deploybus: --token-file: cannot read ${join(dir, 'nope')} (ENOENT)\n`);
      const bad = await cli(['roster', '--api', 'ftp://x']);
      expect(bad.code).toBe(EXIT.usage);
      expect(bad.err).toBe('deploybus: --api must be an http:// or https:// URL, not ftp:\n');
      const spaced = await cli(['roster', '--token', 'two words']);
      expect(spaced.code).toBe(EXIT.usage);
      expect(spaced.err).toContain('--token holds whitespace');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
