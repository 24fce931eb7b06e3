// deploy/config: an example config file and secrets file per daemon. Each example is loaded with the
// daemon's own schema, exactly as the daemon would load it at start (file + environment, `{ file }`
// secrets read), so an example that drifts from the code fails here. The signing keys the examples
// name under /etc/deploybus/keys are a real pair made for the test. Daemons not written yet get the
// common keys only.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { parseBusUrl } from '@deploybus/bus';
import { createMessage, generateSigningKeyPair, signMessage, verifyMessage } from '@deploybus/protocol';
import { daemonConfigSchema, type Env, type Secret } from '../src/index.js';
import { DAEMONS, daemonExists, DEPLOY_DIR, exampleKeys, parseEnvFile, type ExampleKeys } from './support/deploy-layout.js';

const CONFIG_DIR = join(DEPLOY_DIR, 'config');

interface Definition {
  readonly service: string;
  readonly configSchema: z.ZodType;
}

function isDefinition(value: unknown, service: string): value is Definition {
  return typeof value === 'object' && value !== null && (value as { service?: unknown }).service === service && 'configSchema' in value && 'start' in value;
}

/** The daemon's DaemonDefinition, found among its package's exports. */
async function definitionOf(daemon: string): Promise<Definition> {
  const exports = (await import(`@deploybus/${daemon}`)) as Record<string, unknown>;
  const found = Object.values(exports).find((value) => isDefinition(value, daemon));
  if (!found || !isDefinition(found, daemon)) throw new Error(`@deploybus/${daemon} exports no DaemonDefinition for service "${daemon}"`);
  return found;
}

async function envOf(daemon: string): Promise<Env> {
  const envFile = join(CONFIG_DIR, `${daemon}.env`);
  return parseEnvFile(await readFile(envFile, 'utf8'), envFile);
}

/** The example config of `daemon`, loaded as the daemon loads it. */
async function loadExample(daemon: string): Promise<unknown> {
  const schema = daemonExists(daemon) ? (await definitionOf(daemon)).configSchema : daemonConfigSchema({});
  return keys.load(schema, join(CONFIG_DIR, `${daemon}.yaml`), await envOf(daemon));
}

let keys: ExampleKeys;
beforeAll(async () => {
  keys = await exampleKeys(['conductor-1']);
});
afterAll(async () => {
  await keys.cleanup();
});

describe('deploy/config', () => {
  it.each(DAEMONS)('%s: the example config and secrets load with the daemon\'s own schema', async (daemon) => {
    const config = (await loadExample(daemon)) as { bus: { url: string }; health: { port?: number } };
    // The bus URL names the daemon's own RabbitMQ user on the deploybus vhost (deploy/rabbitmq).
    const url = parseBusUrl(config.bus.url);
    expect({ user: url.username, vhost: url.vhost, tls: url.tls }).toEqual({ user: daemon, vhost: 'deploybus', tls: true });
    expect(config.health.port).toBeGreaterThan(0);
    // An example of a daemon that exists is a real one, not the placeholder of a future daemon.
    if (daemonExists(daemon)) expect(await readFile(join(CONFIG_DIR, `${daemon}.yaml`), 'utf8')).not.toMatch(/not written yet|future/i);
  });

  it('the conductor signs with the key the agents trust: one key id, and a command signed by one verifies with the other', async () => {
    const conductor = (await loadExample('conductor')) as { signing: { keyId: string; privateKey: Secret } };
    const agent = (await loadExample('deploy-agent')) as { trustedKeys: Array<{ keyId: string; publicKey: string | { file: string } }> };
    const { loadTrustedKeys } = await import('@deploybus/deploy-agent');
    const trusted = loadTrustedKeys(agent.trustedKeys);
    expect([...trusted.keys()]).toContain(conductor.signing.keyId);

    const command = createMessage('agent.command', { action: 'state', commandId: 'c-0b1e9d44', host: 'web1' }, {
      source: { service: 'conductor', host: 'ops1' },
      ttlMs: 60_000,
    });
    const signed = signMessage(command, { privateKey: conductor.signing.privateKey.reveal(), keyId: conductor.signing.keyId });
    expect(verifyMessage(JSON.parse(JSON.stringify(signed)), trusted)).toEqual({ ok: true, keyId: conductor.signing.keyId });
    // The check can fail: another private key under the same key id does not verify.
    const impostor = signMessage(command, { privateKey: generateSigningKeyPair().privateKey, keyId: conductor.signing.keyId });
    expect(verifyMessage(JSON.parse(JSON.stringify(impostor)), trusted)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('gives each daemon its own health port, so all of them fit on one server', async () => {
    const ports = await Promise.all(
      DAEMONS.map(async (daemon) => {
        const text = await readFile(join(CONFIG_DIR, `${daemon}.yaml`), 'utf8');
        return /health: \{ port: (\d+)/.exec(text)?.[1];
      }),
    );
    expect(ports.every((p) => p !== undefined)).toBe(true);
    expect(new Set(ports).size).toBe(DAEMONS.length);
  });

  it('keeps secrets out of the config files: only { env } or { file } references', async () => {
    for (const daemon of DAEMONS) {
      const text = await readFile(join(CONFIG_DIR, `${daemon}.yaml`), 'utf8');
      expect(text, daemon).not.toMatch(/(secret|token|password|privateKey):\s*["']?[A-Za-z0-9-]/i);
      expect(text, daemon).not.toMatch(/:\/\/[^/\s:@]+:[^@\s]+@/); // no URL with a password
      expect(text, daemon).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    }
  });
});
