// openapi.yaml and the routes the express app registers must match both ways, so the document
// cannot go stale: a route added without documenting it (or documented and removed) fails here.
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { createLogger } from '@deploybus/runtime';
import { Authenticator, BusGateway, createWebApp, listRoutes, LiveEvents, loadOpenApi, LoginThrottle, UiShell } from '../src/index.js';
import { randomName } from '../../../packages/bus/test/support/wait-for.js';

const buses: Bus[] = [];
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function documentedRoutes(document: Record<string, unknown>): string[] {
  const paths = document['paths'] as Record<string, Record<string, unknown>>;
  return Object.entries(paths)
    .flatMap(([path, item]) => Object.keys(item).filter((k) => METHODS.includes(k)).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

describe('openapi.yaml', () => {
  it('describes exactly the routes the web registers', async () => {
    const bus = await connectBus(`memory://${randomName('openapi')}`, { service: 'web', host: 'webhost' });
    buses.push(bus);
    const logger = createLogger({ service: 'web', host: 'webhost', level: 'silent' });
    const live = new LiveEvents({ bus, logger });
    const document = loadOpenApi();
    const app = createWebApp({
      context: {
        gateway: new BusGateway({ bus, keepaliveHosts: ['ka1'], timeoutMs: 1000 }),
        auth: new Authenticator({ users: [], tokens: [], sessionSecret: 'x'.repeat(32), sessionTtlMs: 60_000 }),
        live,
        ui: new UiShell(),
        loginThrottle: new LoginThrottle({ maxFailures: 10, windowMs: 60_000 }),
        logger,
        openapi: () => document,
        secureCookies: false,
        sseHeartbeatMs: 15_000,
        sseMaxClients: 10,
      },
      bodyLimitBytes: 1024 * 1024,
    });
    const registered = listRoutes(app);
    expect(registered.length).toBeGreaterThan(20);
    expect(registered).toContain('POST /api/deploys');
    expect(registered).toContain('GET /api/deploys/{id}/logs');
    expect(documentedRoutes(document)).toEqual(registered);
  });

  it('is OpenAPI 3.1 whose $refs all resolve', () => {
    const document = loadOpenApi();
    expect(document['openapi']).toBe('3.1.0');
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const pointer = ref.slice('"$ref":"#/'.length, -1).split('/');
      let node: unknown = document;
      for (const part of pointer) node = (node as Record<string, unknown> | undefined)?.[part];
      expect(node, ref).toBeDefined();
    }
  });
});
