// The daemon as runDaemon starts it: config checked at start (naming the bad key), and heartbeats
// that say what each app runs on this host.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus } from '@deploybus/bus';
import { generateSigningKeyPair, signMessage, type Message } from '@deploybus/protocol';
import { ConfigError, loadConfig, startDaemon, type DaemonHandle } from '@deploybus/runtime';
import { deployAgent, deployAgentConfigSchema } from '../src/index.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { makeOrigin } from './support/agent-fixture.js';

let root: string | undefined;
let handle: DaemonHandle | undefined;
afterEach(async () => {
  await handle?.stop();
  handle = undefined;
  if (root !== undefined) await rm(root, { recursive: true, force: true });
  root = undefined;
});

function baseConfig(dir: string, app: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mirrorsDir: join(dir, 'mirrors'),
    stateDir: join(dir, 'state'),
    apps: [{ name: 'shop', env: 'production', repo: 'shop', url: join(dir, 'origin'), deployRoot: join(dir, 'deploy'), ...app }],
  };
}

async function configError(config: Record<string, unknown>): Promise<string> {
  root ??= await mkdtemp(join(tmpdir(), 'deploy-agent-config-'));
  const file = join(root, `${randomName('config')}.json`);
  await writeFile(file, JSON.stringify(config));
  try {
    loadConfig(deployAgentConfigSchema, { file, env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('config was accepted');
}

describe('deploy-agent config', () => {
  it('names the key of an unknown key, a relative path, a remote helper URL, a broken placeholder, an undeclared placeholder', async () => {
    const dir = '/srv/x';
    expect(await configError({ ...baseConfig(dir), colour: 'red' })).toContain('colour');
    expect(await configError(baseConfig(dir, { deployRoot: 'relative/path' }))).toContain('apps[0].deployRoot');
    expect(await configError(baseConfig(dir, { url: 'ext::sh -c touch% /tmp/x' }))).toContain('apps[0].url');
    expect(await configError(baseConfig(dir, { actions: [{ name: 'a', command: ['echo', 'x{p}'], params: { p: { type: 'boolean' } } }] }))).toContain('whole argument');
    expect(await configError(baseConfig(dir, { actions: [{ name: 'a', command: ['echo', '{q}'], params: {} }] }))).toContain('{q}');
    expect(await configError(baseConfig(dir, { hooks: { restart: 'systemctl restart shop' } }))).toContain('apps[0].hooks.restart');
    expect(await configError(baseConfig(dir, { healthCheck: { http: 'http://127.0.0.1/', retrys: 3 } }))).toContain('apps[0].healthCheck');
  });

  it('refuses two apps in one deploy root, one inside another or inside the agent\'s own dirs, and an integer parameter no value passes', async () => {
    const dir = '/srv/x';
    const shop = (baseConfig(dir).apps as Array<Record<string, unknown>>)[0]!;
    const twice = await configError({ ...baseConfig(dir), apps: [shop, { ...shop, name: 'blog' }] });
    expect(twice).toContain('apps[1].deployRoot');
    expect(twice).toContain('overlaps the directory of app "shop" (/srv/x/deploy)');
    expect(await configError({ ...baseConfig(dir), apps: [shop, { ...shop, name: 'blog', deployRoot: '/srv/x/deploy/blog' }] })).toContain('apps[1].deployRoot');
    expect(await configError(baseConfig(dir, { deployRoot: '/srv/x/state' }))).toContain('overlaps the directory of stateDir');
    expect(await configError(baseConfig(dir, { deployRoot: '/srv/x/mirrors/shop' }))).toContain('overlaps the directory of mirrorsDir');
    expect(await configError(baseConfig(dir, { actions: [{ name: 'a', command: ['echo', '{n}'], params: { n: { type: 'integer', min: 100, max: 1 } } }] }))).toContain('min must not be above max');
  });
});

describe('deploy-agent daemon', () => {
  it('refuses to start with a trusted key that is not an Ed25519 public key, naming trustedKeys and the key', async () => {
    root = await mkdtemp(join(tmpdir(), 'deploy-agent-keys-'));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const [keyId, publicKey, words] of [
      ['garbled', '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n', 'is not a readable PEM key'],
      ['rsa-key', rsa, 'must be an Ed25519 public key (got rsa)'],
    ] as const) {
      const file = join(root, `${keyId}.json`);
      await writeFile(file, JSON.stringify({ ...baseConfig(root), trustedKeys: [{ keyId, publicKey }] }));
      const failure = await startDaemon(deployAgent, { configFile: file, env: { DEPLOYBUS_BUS_URL: `memory://${randomName('keys')}`, DEPLOYBUS_LOG_LEVEL: 'silent' } }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ConfigError);
      expect((failure as ConfigError).message).toContain('trustedKeys');
      expect((failure as ConfigError).message).toContain(`"${keyId}" ${words}`);
    }
  });

  it('refuses to start with a public key file it cannot read, naming the key and the file', async () => {
    root = await mkdtemp(join(tmpdir(), 'deploy-agent-keys-'));
    const file = join(root, 'missing-key.json');
    await writeFile(file, JSON.stringify({ ...baseConfig(root), trustedKeys: [{ keyId: 'ops-2026', publicKey: { file: join(root, 'no-such.pem') } }] }));
    const failure = await startDaemon(deployAgent, { configFile: file, env: { DEPLOYBUS_BUS_URL: `memory://${randomName('keys')}`, DEPLOYBUS_LOG_LEVEL: 'silent' } }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).message).toContain(`trustedKeys: the public key file of key "ops-2026", ${join(root, 'no-such.pem')}, cannot be read (ENOENT)`);
  });

  it('starts from a config file, deploys a signed command, and heartbeats what runs', async () => {
    root = await mkdtemp(join(tmpdir(), 'deploy-agent-daemon-'));
    const origin = await makeOrigin(root);
    await origin.release('v1.0.0', 'one');
    const keys = generateSigningKeyPair();
    await writeFile(join(root, 'conductor.pub'), keys.publicKey);
    const busUrl = `memory://${randomName('daemon')}`;
    const host = randomName('web');
    const file = join(root, 'agent.json');
    await writeFile(file, JSON.stringify({ ...baseConfig(root, { roles: ['web'] }), heartbeatIntervalMs: 100, trustedKeys: [{ keyId: 'k1', publicKey: { file: join(root, 'conductor.pub') } }] }));
    const client = await connectBus(busUrl, { service: 'conductor', host: 'conductor' });
    try {
      const beats: Message<'heartbeat'>[] = [];
      const replies: Message<'agent.reply'>[] = [];
      await client.subscribe({ patterns: ['heartbeat.deploy-agent.#'] }, (m) => {
        if (m.type === 'heartbeat') beats.push(m);
      });
      await client.subscribe({ patterns: [client.replyAddress] }, (m) => {
        if (m.type === 'agent.reply') replies.push(m);
      });
      handle = await startDaemon(deployAgent, { configFile: file, env: { DEPLOYBUS_BUS_URL: busUrl, DEPLOYBUS_HOST: host, DEPLOYBUS_LOG_LEVEL: 'silent' } });
      const command = signMessage(client.message('agent.command', { action: 'deploy', commandId: randomName('cmd'), host, deploymentId: randomName('deployment'), app: 'shop', env: 'production', ref: 'v1.0.0' }, { ttlMs: 30_000, expectReplies: true }), { privateKey: keys.privateKey, keyId: 'k1' });
      await client.publish(command);
      await waitFor('succeeded', () => replies.some((r) => r.payload.status === 'succeeded'));
      const release = replies.find((r) => r.payload.status === 'succeeded')!.payload.release;
      await waitFor('a heartbeat naming the release', () => beats.some((b) => b.payload.apps?.[0]?.release === release));
      expect(beats.at(-1)?.payload.apps).toEqual([{ app: 'shop', env: 'production', release, ref: 'v1.0.0', roles: ['web'] }]);
    } finally {
      await client.close();
    }
  });
});
