import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, startDaemon } from '@deploybus/runtime';
import { randomName } from '../../../packages/bus/test/support/wait-for.js';
import { repoUpdater, repoUpdaterConfigSchema } from '../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'repo-updater-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(config: unknown): Promise<string> {
  const file = join(dir, 'repo-updater.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

async function configErrorOf(config: unknown): Promise<ConfigError> {
  const file = await configFile(config);
  try {
    loadConfig(repoUpdaterConfigSchema, { file, env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('config was accepted');
}

describe('repo-updater config', () => {
  it('fills in defaults', async () => {
    const file = await configFile({ mirrorsDir: '/srv/mirrors', repos: [{ name: 'shop', url: 'https://git.example.com/shop.git' }] });
    const config = loadConfig(repoUpdaterConfigSchema, { file, env: {} });
    expect(config.repos[0]).toEqual({ name: 'shop', url: 'https://git.example.com/shop.git', fetchOn: ['build.succeeded'] });
    expect(config.packages).toEqual({ refreshCommand: ['apt-get', 'update'], timeoutMs: 300_000, names: [] });
    expect(config.fetch).toEqual({ retries: 3, initialDelayMs: 1_000, timeoutMs: 300_000 });
    expect(config.allowedProtocols).toEqual(['https', 'ssh', 'git', 'file']);
  });

  it('stops the daemon at start on an ext:: URL, naming the key, and runs nothing', async () => {
    const marker = join(tmpdir(), randomName('deploybus-marker'));
    const file = await configFile({ mirrorsDir: join(dir, 'mirrors'), repos: [{ name: 'shop', url: `ext::sh -c touch% ${marker}` }] });
    const started = startDaemon(repoUpdater, { configFile: file, env: { DEPLOYBUS_BUS_URL: `memory://${randomName('cfg')}` }, logDestination: { write: () => undefined } });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toMatchObject({ key: 'repos[0].url' });
    await expect(started).rejects.toThrow(/remote helpers/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(dir, 'mirrors'))).toBe(false);
  });

  it('refuses a transport that is not in allowedProtocols, and takes it once allowed', async () => {
    const repos = [{ name: 'shop', url: 'http://git.example.com/shop.git' }];
    const error = await configErrorOf({ repos });
    expect(error.key).toBe('repos[0].url');
    expect(error.message).toMatch(/transport "http" is not allowed/);
    const file = await configFile({ repos, allowedProtocols: ['http'] });
    expect(() => loadConfig(repoUpdaterConfigSchema, { file, env: {} })).not.toThrow();
  });

  it('never lets ext be configured as a protocol', async () => {
    const error = await configErrorOf({ allowedProtocols: ['https', 'ext'] });
    expect(error.key).toBe('allowedProtocols[1]');
  });

  it('refuses hostile repository names, duplicate names, bad patterns and a relative mirrorsDir, naming the key', async () => {
    expect((await configErrorOf({ repos: [{ name: '../../etc', url: '/srv/git/x' }] })).key).toBe('repos[0].name');
    expect((await configErrorOf({ repos: [{ name: '--upload-pack=touch', url: '/srv/git/x' }] })).key).toBe('repos[0].name');
    expect((await configErrorOf({ repos: [{ name: 'a', url: '/srv/a' }, { name: 'a', url: '/srv/b' }] })).key).toBe('repos[1].name');
    expect((await configErrorOf({ repos: [{ name: 'a', url: '/srv/a', hosts: ['web 1'] }] })).key).toBe('repos[0].hosts[0]');
    expect((await configErrorOf({ repos: [{ name: 'a', url: '/srv/a', fetchOn: ['deploy.succeeded'] }] })).key).toBe('repos[0].fetchOn[0]');
    expect((await configErrorOf({ mirrorsDir: 'mirrors' })).key).toBe('mirrorsDir');
    expect((await configErrorOf({ packages: { refreshCommand: [] } })).key).toBe('packages.refreshCommand');
    expect((await configErrorOf({ fetch: { retry: 3 } })).key).toBe('fetch.retry');
  });
});
