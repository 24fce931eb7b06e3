// The web daemon: config, then the HTTP server with the API, sign-in, the UI shell and the live event
// stream. It holds no state: deploys, locks and cancels are requests on the bus, reads are state
// queries to the conductor and roster queries to keepalive, and sessions are signed cookies.
import { Gauge } from 'prom-client';
import { z } from 'zod';
import { hostSchema } from '@deploybus/protocol';
import { daemonConfigSchema, listenHttp, secretSchema, type DaemonDefinition, type ListeningServer, type RunningDaemon } from '@deploybus/runtime';
import { Authenticator } from './auth.js';
import { BusGateway } from './bus-gateway.js';
import { createWebApp } from './http-app.js';
import { LiveEvents } from './live-events.js';
import { LoginThrottle } from './login-throttle.js';
import { loadOpenApi } from './openapi.js';
import type { RouteModule } from './routes/index.js';
import { UiShell } from './ui-shell.js';

export const WEB_VERSION = '0.1.0';
export const DEFAULT_WEB_PORT = 8600;

const who = z.string().min(1).max(128).regex(/^[^\s:][^:]*$/, 'must not be empty, start with a space, or contain ":"');
const unique = (what: string) => (list: ReadonlyArray<{ readonly name: string }>, ctx: z.RefinementCtx) => {
  const seen = new Set<string>();
  for (const [i, item] of list.entries()) {
    if (seen.has(item.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${what} "${item.name}" is listed twice` });
    seen.add(item.name);
  }
};

export const webConfigSchema = daemonConfigSchema({
  http: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(DEFAULT_WEB_PORT),
      /** Mark the session cookie Secure; set it when users reach the web over HTTPS (a proxy in front). */
      secureCookies: z.boolean().default(false),
      bodyLimitBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
    })
    .default({ host: '127.0.0.1', port: DEFAULT_WEB_PORT, secureCookies: false, bodyLimitBytes: 256 * 1024 }),
  /** People who sign in to the UI; each deploy records the name. */
  users: z.array(z.strictObject({ name: who, password: secretSchema })).default([]).check(z.superRefine(unique('user'))),
  /** API tokens (Authorization: Bearer); the name is recorded as who asked. */
  tokens: z.array(z.strictObject({ name: who, token: secretSchema })).default([]).check(z.superRefine(unique('token'))),
  /** Signs session cookies and derives CSRF tokens; every web instance behind one address needs the same. */
  sessionSecret: secretSchema,
  sessionTtlMs: z.number().int().min(60_000).max(30 * 86_400_000).default(12 * 3_600_000),
  roster: z.strictObject({
    /** The keepalive hosts asked with roster.query; the first complete answer wins. */
    keepaliveHosts: z.array(hostSchema).min(1),
  }),
  /** How long to wait for the conductor or keepalive to answer. */
  requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  sseHeartbeatMs: z.number().int().min(100).max(300_000).default(15_000),
  /** Live event streams open at once; more are answered 503 (each holds a socket and a listener). */
  sseMaxClients: z.number().int().min(1).max(100_000).default(1_000),
  /** Failed sign-ins for one user name from one address, within `windowMs`, before further tries wait (429). */
  loginThrottle: z
    .strictObject({ maxFailures: z.number().int().min(1).max(1000).default(10), windowMs: z.number().int().min(1000).max(86_400_000).default(300_000) })
    .default({ maxFailures: 10, windowMs: 300_000 }),
  /** Where the UI's files are (default: the package's ui/ folder). */
  uiDir: z.string().min(1).optional(),
});

export type WebConfig = z.output<typeof webConfigSchema>;

export interface WebDaemonOptions {
  /** Called with the server's address once it listens (the all-in-one prints it; tests connect to it). */
  readonly onListening?: (url: string) => void;
  /** Route modules mounted after the built-in ones. */
  readonly extraRoutes?: readonly RouteModule[];
}

export function createWebDaemon(options: WebDaemonOptions = {}): DaemonDefinition<typeof webConfigSchema> {
  return {
    service: 'web',
    version: WEB_VERSION,
    configSchema: webConfigSchema,
    async start({ config, bus, logger, metrics }): Promise<RunningDaemon> {
      const secretLength = config.sessionSecret.reveal().length;
      if (secretLength < 32) logger.warn({ length: secretLength }, 'sessionSecret is short; use at least 32 random characters');
      if (config.users.length === 0 && config.tokens.length === 0) logger.warn({}, 'no users and no tokens are configured: nobody can sign in or use the API');
      const auth = new Authenticator({
        users: config.users.map((u) => ({ name: u.name, secret: u.password.reveal() })),
        tokens: config.tokens.map((t) => ({ name: t.name, secret: t.token.reveal() })),
        sessionSecret: config.sessionSecret.reveal(),
        sessionTtlMs: config.sessionTtlMs,
      });
      const gateway = new BusGateway({ bus, keepaliveHosts: config.roster.keepaliveHosts, timeoutMs: config.requestTimeoutMs });
      const live = new LiveEvents({ bus, logger });
      await live.start();
      const openapi = loadOpenApi();
      const ui = new UiShell(config.uiDir);
      new Gauge({ name: 'deploybus_web_live_clients', help: 'Clients connected to the live event stream.', registers: [metrics.registry], collect() { this.set(live.listenerCount); } });
      const app = createWebApp({
        context: { gateway, auth, live, ui, logger, loginThrottle: new LoginThrottle(config.loginThrottle), openapi: () => openapi, secureCookies: config.http.secureCookies, sseHeartbeatMs: config.sseHeartbeatMs, sseMaxClients: config.sseMaxClients },
        bodyLimitBytes: config.http.bodyLimitBytes,
        registry: metrics.registry,
        ...(options.extraRoutes === undefined ? {} : { extraRoutes: options.extraRoutes }),
      });
      let server: ListeningServer;
      try {
        server = await listenHttp(app, { port: config.http.port, host: config.http.host });
      } catch (error) {
        await live.stop();
        throw error;
      }
      logger.info({ url: server.url, users: config.users.length, tokens: config.tokens.length, ui: ui.dir }, `web listening on ${server.url}`);
      options.onListening?.(server.url);
      return {
        async stop() {
          await live.stop();
          await server.close();
        },
      };
    },
  };
}

/** The web daemon as `runDaemon` starts it. */
export const webDaemon = createWebDaemon();
