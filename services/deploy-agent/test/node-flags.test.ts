// Every shipped launcher of the deploy-agent passes exactly AGENT_NODE_FLAGS to node: both systemd
// units and the container entry point (the bench reads the list itself). And the flags leave the agent
// whole: node accepts them, and fetch (the HTTP health checks) still works under them.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS } from '../src/node-flags.js';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const AGENT_UNITS = ['deploybus-deploy-agent.service', 'deploybus-agent@.service'];
const BUILT_MAIN = '/opt/deploybus/services/deploy-agent/dist/main.js';

/** The words between the node binary and the agent's main.js in a unit's one ExecStart line. */
function nodeFlagsOfUnit(text: string, file: string): string[] {
  const lines = text.split('\n').filter((line) => line.startsWith('ExecStart='));
  if (lines.length !== 1) throw new Error(`${file}: expected one ExecStart line, found ${lines.length}`);
  const words = (lines[0] ?? '').slice('ExecStart='.length).split(/\s+/);
  const main = words.indexOf(BUILT_MAIN);
  if (words[0] !== '/usr/bin/node' || main < 0) throw new Error(`${file}: ExecStart does not run /usr/bin/node ... ${BUILT_MAIN}: ${lines[0] ?? ''}`);
  return words.slice(1, main);
}

describe('the deploy-agent node flags', () => {
  it('are a non-empty list of node options', () => {
    expect(AGENT_NODE_FLAGS.length).toBeGreaterThan(0);
    for (const flag of AGENT_NODE_FLAGS) expect(flag).toMatch(/^--[a-z][a-z0-9-]*(=[0-9a-z]+)?$/);
  });

  it.each(AGENT_UNITS)('%s starts node with exactly them', async (file) => {
    const text = await readFile(join(REPO_ROOT, 'deploy', 'systemd', file), 'utf8');
    expect(nodeFlagsOfUnit(text, file)).toEqual([...AGENT_NODE_FLAGS]);
  });

  it('the container entry point starts the deploy-agent with exactly them, and other daemons without', async () => {
    // A stand-in image: an empty main.js per daemon, and a `node` first on PATH that prints what it was given.
    const root = await mkdtemp(join(tmpdir(), 'deploybus-node-flags-'));
    try {
      for (const daemon of ['deploy-agent', 'keepalive']) {
        await mkdir(join(root, 'services', daemon, 'dist'), { recursive: true });
        await writeFile(join(root, 'services', daemon, 'dist', 'main.js'), '');
      }
      await mkdir(join(root, 'bin'));
      await writeFile(join(root, 'bin', 'node'), '#!/bin/sh\nfor word in "$@"; do echo "$word"; done\n');
      await chmod(join(root, 'bin', 'node'), 0o755);
      const entry = async (daemon: string): Promise<string[]> => {
        const { stdout } = await run('sh', [join(REPO_ROOT, 'deploy', 'docker', 'entrypoint.sh'), daemon, '--config', '/etc/deploybus/x.yaml'], {
          env: { PATH: `${join(root, 'bin')}:/usr/bin:/bin`, DEPLOYBUS_ROOT: root },
        });
        return stdout.split('\n').filter(Boolean);
      };
      const mainOf = (daemon: string): string => join(root, 'services', daemon, 'dist', 'main.js');
      expect(await entry('deploy-agent')).toEqual([...AGENT_NODE_FLAGS, mainOf('deploy-agent'), '--config', '/etc/deploybus/x.yaml']);
      expect(await entry('keepalive')).toEqual([mainOf('keepalive'), '--config', '/etc/deploybus/x.yaml']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('are accepted by this node and leave fetch working (no --jitless: undici parses HTTP with WebAssembly)', async () => {
    const server = createServer((_request, response) => response.end('health ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const script = `fetch('http://127.0.0.1:${port}/').then((r) => r.text()).then((t) => process.stdout.write(t))`;
      const { stdout } = await run(process.execPath, [...AGENT_NODE_FLAGS, '-e', script], { timeout: 15_000 });
      expect(stdout).toBe('health ok');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
