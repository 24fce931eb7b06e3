// The README's promise, kept by a test: a fresh clone of this repository, `npm ci`, `npm start`, a tag
// of the demo app deployed through the HTTP API with the token `npm start` printed, then another with
// the README's `npx deploybus deploy …`, ending with the demo servers serving it. It clones the
// committed HEAD, so a file that is only in the working tree (or only in node_modules) cannot make it
// pass. Slow by nature (npm ci compiles better-sqlite3), so it runs with the serial tests.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { waitFor } from '../../packages/bus/test/support/wait-for.js';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'deploybus-fresh-clone-'));
const clone = join(dir, 'deploybus');
const dataDir = join(dir, 'data');
let system: ChildProcess | undefined;

/** True while any process of the group `pgid` (npm, its shell, node) is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  const pid = system?.pid;
  if (pid !== undefined && groupAlive(pid)) {
    process.kill(-pid, 'SIGKILL');
    await waitFor('the npm start process group to end', () => !groupAlive(pid), 30_000);
  }
  rmSync(dir, { recursive: true, force: true });
}, 300_000);

it('runs `npm ci && npm start` from a fresh clone and deploys a demo tag through the API', { timeout: 900_000 }, async () => {
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone], { stdio: 'pipe' });
  // The npm cache from the checkout's own install is reused (--prefer-offline); nothing else is shared.
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone, stdio: 'pipe', timeout: 600_000 });

  let output = '';
  const child = spawn('npm', ['start'], {
    cwd: clone,
    env: { ...process.env, DEPLOYBUS_DATA_DIR: dataDir, DEPLOYBUS_WEB_PORT: '0', DEPLOYBUS_WEBHOOK_PORT: '0', DEPLOYBUS_BUS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: npm, the shell it runs the script in and node all get the signal, as from Ctrl-C.
    detached: true,
  });
  system = child;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('npm start to print the UI address and the API token', () => {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
    return /API token: \S+/.test(output);
  }, 300_000);

  const url = /web UI and API: (http:\/\/\S+?)\/?\s/.exec(output)?.[1];
  const token = /API token: (\S+)/.exec(output)?.[1];
  expect(url, output).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(/sign in as admin with password \S+/.test(output), output).toBe(true);
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  // The fleet announces itself through heartbeats; the API lists the demo app once keepalive has them.
  await waitFor('the demo fleet in the API', async () => {
    const apps = await api('GET', '/api/apps');
    return apps.status === 200 && JSON.stringify(apps.json).includes('"web3"');
  }, 60_000);
  const unauthenticated = await fetch(`${url}/api/deploys`, { method: 'POST' });
  expect(unauthenticated.status).toBe(401);

  const queued = await api('POST', '/api/deploys', { app: 'demo', env: 'production', ref: 'v1.1.0', batchSize: 2 });
  expect(queued.status, JSON.stringify(queued.json)).toBe(202);
  const id = String(queued.json['deploymentId']);
  await waitFor('the deployment to finish', async () => {
    const d = await api('GET', `/api/deploys/${id}`);
    const state = String(d.json['state']);
    if (state === 'failed' || state === 'cancelled') throw new Error(`deployment ${state}: ${JSON.stringify(d.json)}`);
    return state === 'succeeded';
  }, 120_000);
  for (const host of ['web1', 'web2', 'web3']) {
    expect(readFileSync(join(dataDir, 'servers', host, 'apps', 'demo', 'current', 'VERSION'), 'utf8')).toBe('1.1.0\n');
  }
  expect(existsSync(join(dataDir, 'servers', 'stage1', 'apps', 'demo', 'current'))).toBe(false);

  // The README's shell lines, as written there: `npx deploybus …` with the printed address and token.
  // `--no`: npx must find the clone's own command, never fetch a package of that name.
  const cli = (...args: string[]): { status: number | null; stdout: string; output: string } => {
    const run = spawnSync('npx', ['--no', 'deploybus', ...args], { cwd: clone, env: { ...process.env, DEPLOYBUS_API_URL: url, DEPLOYBUS_TOKEN: token }, encoding: 'utf8', timeout: 180_000 });
    return { status: run.status, stdout: run.stdout, output: `${run.stdout}${run.stderr}` };
  };
  const deployed = cli('deploy', 'demo', 'v1.2.0', '--env', 'production', '--batch', '2');
  expect(deployed.status, deployed.output).toBe(0);
  for (const host of ['web1', 'web2', 'web3']) {
    expect(readFileSync(join(dataDir, 'servers', host, 'apps', 'demo', 'current', 'VERSION'), 'utf8')).toBe('1.2.0\n');
  }
  const status = cli('status', 'demo', '--env', 'production', '--json');
  expect(status.status, status.output).toBe(0);
  const matrix = (JSON.parse(status.stdout) as { matrices: { hosts: { host: string; ref: string }[] }[] }).matrices[0];
  expect(matrix?.hosts.map((h) => `${h.host} ${h.ref}`).sort()).toEqual(['web1 v1.2.0', 'web2 v1.2.0', 'web3 v1.2.0']);

  const pgid = child.pid ?? 0;
  process.kill(-pgid, 'SIGTERM');
  // Every process of the group ends by itself: node stops its daemons and exits.
  await waitFor('npm start to stop on SIGTERM', () => !groupAlive(pgid), 60_000);
  expect(output).toMatch(/SIGTERM: stopping/);
  expect(output).not.toMatch(/could not start/);
});
