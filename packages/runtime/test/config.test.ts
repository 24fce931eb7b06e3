// Config is validated once at start; every problem names its key and its file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, daemonConfigSchema, loadConfig, Secret, secretSchema } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'deploybus-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const schema = daemonConfigSchema({
  jenkins: z.strictObject({ url: z.url(), token: secretSchema }),
  repos: z.array(z.strictObject({ name: z.string().min(1), intervalMs: z.number().int().positive() })).default([]),
});

function loadError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads YAML and JSON, applies defaults and environment overrides, and freezes the result', () => {
    const yaml = file('ok.yaml', 'jenkins:\n  url: https://ci.example.com\n  token: { env: JENKINS_TOKEN }\nrepos:\n  - { name: shop, intervalMs: 5000 }\n');
    const config = loadConfig(schema, { file: yaml, env: { JENKINS_TOKEN: 't0k3n', DEPLOYBUS_BUS_URL: 'amqp://mq:5672', DEPLOYBUS_HOST: 'ci1' } });
    expect(config.bus.url).toBe('amqp://mq:5672');
    expect(config.host).toBe('ci1');
    expect(config.logLevel).toBe('info');
    expect(config.repos).toEqual([{ name: 'shop', intervalMs: 5000 }]);
    expect(config.jenkins.token.reveal()).toBe('t0k3n');
    expect(Object.isFrozen(config.repos[0])).toBe(true);
    const json = file('ok.json', JSON.stringify({ jenkins: { url: 'https://ci.example.com', token: { env: 'T' } } }));
    expect(loadConfig(schema, { file: json, env: { T: 'x' } }).repos).toEqual([]);
  });

  it('stops on an unknown key, naming it with its path', () => {
    const path = file('unknown.yaml', 'jenkins:\n  url: https://ci.example.com\n  token: { env: T }\n  tokne: oops\n');
    const error = loadError(() => loadConfig(schema, { file: path, env: { T: 'x' } }));
    expect(error.key).toBe('jenkins.tokne');
    expect(error.message).toBe(`config ${path}: jenkins.tokne: unknown key "jenkins.tokne"`);
  });

  it('stops on a bad value, naming the key inside lists', () => {
    const path = file('bad.json', JSON.stringify({ jenkins: { url: 'https://ci', token: { env: 'T' } }, repos: [{ name: 'a', intervalMs: 1 }, { name: 'b', intervalMs: -5 }] }));
    const error = loadError(() => loadConfig(schema, { file: path, env: { T: 'x' } }));
    expect(error.key).toBe('repos[1].intervalMs');
    expect(error.message).toContain('repos[1].intervalMs:');
  });

  it('says a value of the wrong type is of the wrong type, not missing', () => {
    const path = file('type.json', JSON.stringify({ jenkins: { url: 'https://ci', token: { env: 'T' } }, heartbeatIntervalMs: 'often' }));
    const error = loadError(() => loadConfig(schema, { file: path, env: { T: 'x' } }));
    expect(error.key).toBe('heartbeatIntervalMs');
    expect(error.message).not.toMatch(/is required/);
    expect(error.message).toMatch(/expected number/);
  });

  it('says which required key is missing', () => {
    const error = loadError(() => loadConfig(schema, { env: {} }));
    expect(error.key).toBe('jenkins');
    expect(error.message).toBe('config: jenkins: is required');
  });

  it('refuses a secret written into the file, and a secret whose variable or file is missing', () => {
    const inline = file('inline.yaml', 'jenkins: { url: "https://ci", token: "hunter2" }\n');
    const e1 = loadError(() => loadConfig(schema, { file: inline, env: {} }));
    expect(e1.key).toBe('jenkins.token');
    expect(e1.message).toMatch(/secrets never stand in a config file/);
    expect(e1.message).not.toContain('hunter2');
    const fromEnv = file('env.yaml', 'jenkins: { url: "https://ci", token: { env: MISSING_TOKEN } }\n');
    expect(loadError(() => loadConfig(schema, { file: fromEnv, env: {} })).message).toMatch(/jenkins.token: environment variable MISSING_TOKEN is not set/);
    const fromFile = file('file.yaml', `jenkins: { url: "https://ci", token: { file: "${join(dir, 'nope')}" } }\n`);
    expect(loadError(() => loadConfig(schema, { file: fromFile, env: {} })).message).toMatch(/jenkins.token: secret file .*nope cannot be read \(ENOENT\)/);
  });

  it('reads a secret from a file, trimming the final newline', () => {
    const secretPath = file('token.txt', 's3cr3t\n');
    const path = file('sf.yaml', `jenkins: { url: "https://ci", token: { file: "${secretPath}" } }\n`);
    expect(loadConfig(schema, { file: path, env: {} }).jenkins.token.reveal()).toBe('s3cr3t');
  });

  it('reports a broken or unreadable file as such', () => {
    const broken = file('broken.json', '{ "jenkins": ');
    expect(loadError(() => loadConfig(schema, { file: broken, env: {} })).message).toMatch(/^config .*broken.json: is not valid JSON/);
    const brokenYaml = file('broken.yaml', 'a: [1, 2\n');
    expect(loadError(() => loadConfig(schema, { file: brokenYaml, env: {} })).message).toMatch(/is not valid YAML/);
    expect(loadError(() => loadConfig(schema, { file: join(dir, 'absent.yaml'), env: {} })).message).toMatch(/cannot be read \(ENOENT\)/);
    const list = file('list.json', '[1,2]');
    expect(loadError(() => loadConfig(schema, { file: list, env: {} })).message).toMatch(/must hold an object/);
  });
});

describe('Secret', () => {
  it('never prints its value', () => {
    const secret = new Secret({ env: 'X' });
    secret.resolve({ X: 'topsecret' });
    expect(JSON.stringify({ secret })).toBe('{"secret":"[secret]"}');
    expect(inspect({ secret })).not.toContain('topsecret');
    expect(`${String(secret)}`).toBe('[secret]');
    expect(secret.reveal()).toBe('topsecret');
  });
});
