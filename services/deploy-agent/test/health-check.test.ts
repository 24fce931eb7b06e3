// The health check edge against real sockets: an HTTP server and a TCP port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand, runHealthCheck, type HealthCheckConfig } from '../src/index.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function listen(statuses: number[]): Promise<number> {
  let hit = 0;
  server = createServer((_req, res) => {
    res.statusCode = statuses[Math.min(hit++, statuses.length - 1)] ?? 500;
    res.end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const check = (probe: HealthCheckConfig) => runHealthCheck({ check: probe, cwd: process.cwd(), env: {}, runCommand, onLine: () => undefined, sleep: () => Promise.resolve() });

describe('health check', () => {
  it('http: retries until a 2xx, and fails after its tries with the status', async () => {
    const port = await listen([503, 503, 200]);
    expect(await check({ http: `http://127.0.0.1:${port}/healthz`, retries: 2, intervalMs: 0, timeoutMs: 2_000 })).toMatchObject({ ok: true, tries: 3 });
    const again = await check({ http: `http://127.0.0.1:${port}/healthz`, retries: 0, intervalMs: 0, timeoutMs: 2_000 });
    expect(again.ok).toBe(true); // the server answers 200 from now on
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const down = await check({ http: `http://127.0.0.1:${port}/healthz`, retries: 1, intervalMs: 0, timeoutMs: 2_000 });
    expect(down).toMatchObject({ ok: false, tries: 2 });
    expect(down.problem).toContain('after 2 tries');
  });

  it('tcp: an open port passes, a closed one fails', async () => {
    const port = await listen([200]);
    expect(await check({ tcp: { host: '127.0.0.1', port }, retries: 0, intervalMs: 0, timeoutMs: 2_000 })).toMatchObject({ ok: true });
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const closed = await check({ tcp: { host: '127.0.0.1', port }, retries: 0, intervalMs: 0, timeoutMs: 2_000 });
    expect(closed.ok).toBe(false);
    expect(closed.problem).toContain('refused');
  });
});
