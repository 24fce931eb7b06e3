// `deploybus up` and `deploybus <daemon>` as processes: the built CLI (run `npx tsc -b` first) starts
// the whole system, prints where the API is, answers the CLI's own API commands, and stops cleanly on
// SIGTERM; a daemon with a bad config ends with one sentence naming the key and exit 78.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { AGENT_NODE_FLAGS } from '@deploybus/deploy-agent';
import { generateSigningKeyPair } from '@deploybus/protocol';
import { EXIT } from '../src/cli-errors.js';

const CLI = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const AGENT_MAIN = fileURLToPath(new URL('../../deploy-agent/dist/main.js', import.meta.url));
const BASE_ENV = { PATH: process.env['PATH'], HOME: process.env['HOME'] };
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deploybus-cli-daemons-'));
  dirs.push(dir);
  return dir;
}

describe('deploybus up', () => {
  it('starts everything, prints the API address, serves the CLI, and stops on SIGTERM with exit 0', async () => {
    const dataDir = tempDir();
    const up = execa(process.execPath, [CLI, 'up', '--data-dir', dataDir, '--web-port', '0', '--webhook-port', '0'], { reject: false, extendEnv: false, env: BASE_ENV, cwd: dataDir });
    let output = '';
    up.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      await waitFor('the all-in-one to print its web address', () => /web UI and API: (http:\/\/127\.0\.0\.1:\d+)\//.test(output), 90_000);
      const apiUrl = /web UI and API: (http:\/\/127\.0\.0\.1:\d+)\//.exec(output)?.[1] ?? '';
      const tokenFile = join(dataDir, 'secrets', 'api-token');
      await waitFor(
        'the roster, through the CLI, to list the demo fleet\'s agents',
        async () => {
          const roster = await execa(process.execPath, [CLI, 'roster', '--api', apiUrl, '--token-file', tokenFile], { reject: false, extendEnv: false, env: BASE_ENV });
          return roster.exitCode === 0 && ['stage1', 'web1', 'web2', 'web3'].every((h) => new RegExp(`deploy-agent\\s+${h}\\s+up`).test(roster.stdout));
        },
        60_000,
      );
      const history = await execa(process.execPath, [CLI, 'history', '--api', apiUrl, '--token-file', tokenFile], { reject: false, extendEnv: false, env: BASE_ENV });
      expect(history.exitCode, history.stderr).toBe(EXIT.ok);
      expect(history.stdout).toBe('no deployments yet');
    } finally {
      up.kill('SIGTERM');
    }
    const ended = await up;
    expect(ended.exitCode, ended.stderr).toBe(0);
    expect(output).toContain('SIGTERM: stopping');
  }, 180_000);
});

describe('deploybus <daemon>', () => {
  it('runs the named daemon\'s config check: a bad key or a missing file is one sentence and exit 78', async () => {
    const dir = tempDir();
    const config = join(dir, 'keepalive.json');
    writeFileSync(config, JSON.stringify({ bus: { url: 'memory://x' }, bogus: 1 }));
    const bad = await execa(process.execPath, [CLI, 'keepalive', '--config', config], { reject: false, extendEnv: false, env: BASE_ENV });
    expect(bad.exitCode).toBe(EXIT.config);
    expect(bad.stderr).toBe(`keepalive: config ${config}: bogus: unknown key "bogus"`);
    const missing = await execa(process.execPath, [CLI, 'conductor', '--config', join(dir, 'nope.yaml')], { reject: false, extendEnv: false, env: BASE_ENV });
    expect(missing.exitCode).toBe(EXIT.config);
    expect(missing.stderr).toBe(`conductor: config ${join(dir, 'nope.yaml')}: cannot be read (ENOENT)`);
  }, 60_000);

  it('runs deploy-agent as its own node process with the agent\'s node flags, passes SIGTERM on, and ends with its exit code', async () => {
    const dir = tempDir();
    const config = join(dir, 'deploy-agent.json');
    const { publicKey } = generateSigningKeyPair();
    const agentConfig = { bus: { url: 'memory://alone' }, host: 'web1', logLevel: 'info', mirrorsDir: join(dir, 'mirrors'), stateDir: join(dir, 'state'), trustedKeys: [{ keyId: 'k1', publicKey }], apps: [{ name: 'shop', env: 'production', repo: 'shop', url: join(dir, 'origin'), deployRoot: join(dir, 'deploy') }] };
    writeFileSync(config, JSON.stringify(agentConfig));
    const cli = execa(process.execPath, [CLI, 'deploy-agent', '--config', 'deploy-agent.json'], { reject: false, extendEnv: false, env: BASE_ENV, cwd: dir });
    let output = '';
    cli.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    let agentArgs: string[] | undefined;
    try {
      await waitFor('the deploy-agent to log that it started', () => output.includes('deploy-agent started'), 30_000);
      // The agent is the CLI's child, started as the systemd units start it.
      const children = readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, 'utf8').trim().split(/\s+/);
      expect(children).toHaveLength(1);
      agentArgs = readFileSync(`/proc/${children[0]}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } finally {
      cli.kill('SIGTERM');
    }
    expect(agentArgs).toEqual([process.execPath, ...AGENT_NODE_FLAGS, AGENT_MAIN, '--config', config]);
    const ended = await cli;
    expect(ended.exitCode, ended.stderr).toBe(0);
    expect(output).toContain('deploy-agent stopped');

    // A config the agent refuses: its one-sentence error and its exit code come through.
    writeFileSync(config, JSON.stringify({ ...agentConfig, bogus: 1 }));
    const bad = await execa(process.execPath, [CLI, 'deploy-agent', '--config', config], { reject: false, extendEnv: false, env: BASE_ENV });
    expect(bad.exitCode).toBe(EXIT.config);
    expect(bad.stderr).toBe(`deploy-agent: config ${config}: bogus: unknown key "bogus"`);
  }, 60_000);

  it('runs a daemon until SIGTERM (keepalive on its own in-memory bus)', async () => {
    const dir = tempDir();
    const config = join(dir, 'keepalive.json');
    writeFileSync(config, JSON.stringify({ bus: { url: 'memory://alone' }, host: 'localhost', logLevel: 'info' }));
    const daemon = execa(process.execPath, [CLI, 'keepalive', '--config', config], { reject: false, extendEnv: false, env: BASE_ENV });
    let output = '';
    daemon.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      await waitFor('keepalive to log that it started', () => output.includes('keepalive started'), 30_000);
    } finally {
      daemon.kill('SIGTERM');
    }
    const ended = await daemon;
    expect(ended.exitCode, ended.stderr).toBe(0);
    expect(output).toContain('keepalive stopped');
  }, 60_000);
});
