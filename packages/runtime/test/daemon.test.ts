// The shared daemon shape: config -> logger -> bus -> start, heartbeats while running, a clean stop.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectBus } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import { ConfigError, configFileFrom, daemonConfigSchema, startDaemon, type DaemonDefinition } from '../src/index.js';

function sink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { stream, lines };
}

const schema = daemonConfigSchema({ greeting: z.string().default('hello') });

describe('startDaemon', () => {
  it('starts with validated config, sends heartbeats, and stops cleanly', async () => {
    const busUrl = `memory://daemon-${Date.now()}`;
    const events: string[] = [];
    const definition: DaemonDefinition<typeof schema> = {
      service: 'greeter',
      version: '1.2.3',
      configSchema: schema,
      async start(ctx) {
        events.push(`start ${ctx.config.greeting} on ${ctx.host}`);
        return { stop: async () => void events.push('stop') };
      },
    };
    const watcher = await connectBus(busUrl, { service: 'watcher', host: 'w1' });
    const beats: Message[] = [];
    await watcher.subscribe({ patterns: ['heartbeat.greeter.*'] }, (m) => void beats.push(m));
    const { stream, lines } = sink();
    const handle = await startDaemon(definition, { env: { DEPLOYBUS_BUS_URL: busUrl, DEPLOYBUS_HOST: 'node7' }, logDestination: stream });
    const deadline = Date.now() + 5_000;
    while (beats.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['start hello on node7']);
    const beat = beats[0];
    expect(beat?.type === 'heartbeat' && beat.payload).toMatchObject({ service: 'greeter', host: 'node7', version: '1.2.3' });
    await handle.stop();
    await handle.stop(); // idempotent
    expect(events).toEqual(['start hello on node7', 'stop']);
    expect(handle.context.bus.state).toBe('closed');
    expect(lines.some((l) => l.includes('"msg":"greeter started"'))).toBe(true);
    await watcher.close();
  });

  it('refuses to start on a bad config, naming the key, and opens no bus', async () => {
    const definition: DaemonDefinition<typeof schema> = {
      service: 'greeter',
      version: '1',
      configSchema: schema,
      start: () => Promise.reject(new Error('must not start')),
    };
    await expect(startDaemon(definition, { env: { DEPLOYBUS_LOG_LEVEL: 'loud' } })).rejects.toThrow(ConfigError);
    await expect(startDaemon(definition, { env: { DEPLOYBUS_LOG_LEVEL: 'loud' } })).rejects.toThrow(/logLevel/);
  });

  it('finds the config file from --config or DEPLOYBUS_CONFIG', () => {
    expect(configFileFrom(['--config', '/etc/x.yaml'], {})).toBe('/etc/x.yaml');
    expect(configFileFrom([], { DEPLOYBUS_CONFIG: '/etc/y.yaml' })).toBe('/etc/y.yaml');
    expect(configFileFrom([], {})).toBeUndefined();
    expect(() => configFileFrom(['--config'], {})).toThrow(/--config needs a file path/);
    expect(configFileFrom(['--config=/etc/z.yaml'], { DEPLOYBUS_CONFIG: '/etc/y.yaml' })).toBe('/etc/z.yaml');
    expect(() => configFileFrom(['--config='], {})).toThrow(/--config needs a file path/);
    // A misspelt flag is refused, not ignored (the daemon would run on defaults that reach nothing).
    expect(() => configFileFrom(['--conf', '/etc/x.yaml'], {})).toThrow('unknown argument "--conf"; the only one is --config <file> (or DEPLOYBUS_CONFIG)');
    expect(() => configFileFrom(['/etc/x.yaml'], {})).toThrow(/unknown argument "\/etc\/x.yaml"/);
    expect(() => configFileFrom(['--config', 'a.yaml', '--config', 'b.yaml'], {})).toThrow(/given twice/);
  });
});

describe('health and metrics endpoints', () => {
  it('serve /healthz, /readyz (with the reason when not ready) and /metrics that move with traffic', async () => {
    let ready = false;
    const definition: DaemonDefinition<typeof schema> = {
      service: 'observed',
      version: '1',
      configSchema: schema,
      start: async () => ({ stop: async () => undefined, notReadyReason: () => (ready ? undefined : 'warming up') }),
    };
    const { stream } = sink();
    const handle = await startDaemon(definition, { env: { DEPLOYBUS_BUS_URL: `memory://health-${Date.now()}`, DEPLOYBUS_HEALTH_PORT: '0' }, logDestination: stream });
    try {
      const base = `http://127.0.0.1:${handle.health?.port ?? 0}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const notReady = await fetch(`${base}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ status: 'not ready', reason: 'warming up' });
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/deploybus_messages_published_total\{type="heartbeat",service="observed"\} [1-9]/);
      expect(metrics).toContain('deploybus_bus_connected{service="observed"} 1');
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await handle.stop();
    }
  });

  it('refuses a health port that is not a number, naming the variable', async () => {
    const definition: DaemonDefinition<typeof schema> = { service: 'x', version: '1', configSchema: schema, start: () => Promise.reject(new Error('no')) };
    await expect(startDaemon(definition, { env: { DEPLOYBUS_HEALTH_PORT: 'eighty' } })).rejects.toThrow(/health.port: DEPLOYBUS_HEALTH_PORT="eighty" is not a whole number/);
  });
});
