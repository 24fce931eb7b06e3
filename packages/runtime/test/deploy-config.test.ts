// deploy/config: an example config file and secrets file per daemon. Each example is loaded with the
// daemon's own schema, exactly as the daemon would load it at start (file + environment), so an
// example that drifts from the code fails here. Daemons not written yet get the common keys only.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { parseBusUrl } from '@deploybus/bus';
import { daemonConfigSchema, loadConfig, type Env } from '../src/index.js';
import { DAEMONS, daemonExists, DEPLOY_DIR, parseEnvFile } from './support/deploy-layout.js';

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

describe('deploy/config', () => {
  it.each(DAEMONS)('%s: the example config and secrets load with the daemon\'s own schema', async (daemon) => {
    const file = join(CONFIG_DIR, `${daemon}.yaml`);
    const envFile = join(CONFIG_DIR, `${daemon}.env`);
    const env: Env = parseEnvFile(await readFile(envFile, 'utf8'), envFile);
    const schema = daemonExists(daemon) ? (await definitionOf(daemon)).configSchema : daemonConfigSchema({});
    const config = loadConfig(schema, { file, env }) as { bus: { url: string }; health: { port?: number } };
    // The bus URL names the daemon's own RabbitMQ user on the deploybus vhost (deploy/rabbitmq).
    const url = parseBusUrl(config.bus.url);
    expect({ user: url.username, vhost: url.vhost, tls: url.tls }).toEqual({ user: daemon, vhost: 'deploybus', tls: true });
    expect(config.health.port).toBeGreaterThan(0);
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
      expect(text, daemon).not.toMatch(/(secret|token|password):\s*["']?[A-Za-z0-9]/i);
      expect(text, daemon).not.toMatch(/:\/\/[^/\s:@]+:[^@\s]+@/); // no URL with a password
    }
  });
});
