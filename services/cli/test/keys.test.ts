// `deploybus keys generate`: a usable Ed25519 pair, the private key owner-only, never overwriting.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMessage, signMessage, verifyMessage } from '@deploybus/protocol';
import { runCli } from '../src/cli-program.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function cli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { env: {}, cwd, stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: () => Promise.resolve(''), nodePath: process.execPath, cliPath: '/nonexistent/main.js' });
  return { code, out, err };
}

describe('deploybus keys generate', () => {
  it('writes a private key (0600) and a public key that verify each other, and refuses to overwrite them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'keys-'));
    const first = await cli(['keys', 'generate', '--out', 'keys', '--key-id', 'conductor-1'], dir);
    expect(first.code).toBe(0);
    const privatePath = join(dir, 'keys', 'conductor-1.key');
    const publicPath = join(dir, 'keys', 'conductor-1.pub');
    expect(first.out).toBe(`key id: conductor-1\nprivate key: ${privatePath}\npublic key: ${publicPath}\n`);
    expect((await stat(privatePath)).mode & 0o777).toBe(0o600);
    const privateKey = await readFile(privatePath, 'utf8');
    const publicKey = await readFile(publicPath, 'utf8');
    expect(publicKey).toContain('BEGIN PUBLIC KEY');
    const message = createMessage('heartbeat', { service: 'x', host: 'h', instance: 'i', version: '1', uptimeMs: 1, intervalMs: 1 }, { source: { service: 'x', host: 'h' } });
    expect(verifyMessage(signMessage(message, { privateKey, keyId: 'conductor-1' }), new Map([['conductor-1', publicKey]]))).toEqual({ ok: true, keyId: 'conductor-1' });

    const again = await cli(['keys', 'generate', '--out', 'keys', '--key-id', 'conductor-1'], dir);
    expect(again.code).toBe(1);
    expect(again.err).toContain('already exists');
    expect(await readFile(privatePath, 'utf8')).toBe(privateKey);
  });

  it('makes up a key id when none is given, and refuses one that is not a safe file name', async () => {
    dir = await mkdtemp(join(tmpdir(), 'keys-'));
    const made = await cli(['keys', 'generate', '--out', dir], dir);
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/^key id: deploybus-\d{8}-[0-9a-f]{6}\n/);
    const json = await cli(['keys', 'generate', '--out', dir, '--key-id', 'scripted', '--json'], dir);
    expect(JSON.parse(json.out)).toEqual({ keyId: 'scripted', privateKeyPath: join(dir, 'scripted.key'), publicKeyPath: join(dir, 'scripted.pub') });
    const bad = await cli(['keys', 'generate', '--out', dir, '--key-id', '../evil'], dir);
    expect(bad.code).toBe(64);
    expect(bad.err).toContain('key id');
  });
});
