// The web's config is checked at start: a missing or bad key stops it with a sentence naming the key.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@deploybus/runtime';
import { webConfigSchema } from '../src/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function load(config: Record<string, unknown>, env: Record<string, string> = { SECRET: 'session-secret-0123456789abcdef', PW: 'pw' }) {
  const dir = await mkdtemp(join(tmpdir(), 'web-config-'));
  dirs.push(dir);
  const file = join(dir, 'web.json');
  await writeFile(file, JSON.stringify(config));
  return loadConfig(webConfigSchema, { file, env });
}

const base = { sessionSecret: { env: 'SECRET' }, roster: { keepaliveHosts: ['ka1'] } };

describe('web config', () => {
  it('has defaults: 127.0.0.1:8600, no users, 12 h sessions', async () => {
    const config = await load(base);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8600, secureCookies: false, bodyLimitBytes: 262144 });
    expect(config.users).toEqual([]);
    expect(config.sessionTtlMs).toBe(43_200_000);
    expect(config.sessionSecret.reveal()).toBe('session-secret-0123456789abcdef');
  });

  it('names the key at fault', async () => {
    const cases: Array<[Record<string, unknown>, string, Record<string, string>?]> = [
      [{ roster: { keepaliveHosts: ['ka1'] } }, 'sessionSecret'],
      [{ ...base, sessionSecret: 'plain-text-secret' }, 'sessionSecret'],
      [{ ...base, users: [{ name: 'ada', password: { env: 'PW' } }, { name: 'ada', password: { env: 'PW' } }] }, 'users[1].name'],
      [{ ...base, users: [{ name: 'ada', password: { env: 'MISSING' } }] }, 'users[0].password'],
      [{ ...base, tokens: [{ name: 'a:b', token: { env: 'PW' } }] }, 'tokens[0].name'],
      [{ ...base, http: { port: 70000 } }, 'http.port'],
      [{ ...base, roster: { keepaliveHosts: [] } }, 'roster.keepaliveHosts'],
      [{ ...base, colour: 'blue' }, 'colour'],
    ];
    for (const [config, key] of cases) {
      const error = await load(config).catch((e: unknown) => e);
      expect(error, key).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).key, JSON.stringify(config)).toBe(key);
    }
  });
});
