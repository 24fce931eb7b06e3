// What every route module gets: the bus gateway, the authenticator, the live stream, and settings.
// A route module is a function (context) -> express Router whose routes carry full paths
// (`/api/deploys`), so index.ts mounts each with one line and the OpenAPI test can list them.
import type { Request, Response } from 'express';
import type { Logger } from '@deploybus/runtime';
import type { Authenticator, Principal } from '../auth.js';
import type { BusGateway } from '../bus-gateway.js';
import type { LiveEvents } from '../live-events.js';
import type { LoginThrottle } from '../login-throttle.js';
import type { UiShell } from '../ui-shell.js';

export interface RouteContext {
  readonly gateway: BusGateway;
  readonly auth: Authenticator;
  readonly live: LiveEvents;
  readonly ui: UiShell;
  readonly loginThrottle: LoginThrottle;
  readonly logger: Logger;
  /** The OpenAPI document, as served at /api/openapi.json. */
  readonly openapi: () => unknown;
  /** Mark cookies Secure (behind HTTPS). */
  readonly secureCookies: boolean;
  /** SSE comment lines this often keep proxies from closing an idle stream. */
  readonly sseHeartbeatMs: number;
  /** Live streams open at once; more get 503. */
  readonly sseMaxClients: number;
}

/** Who is asking; set by the auth middleware in front of every /api route. */
export function principalOf(res: Response): Principal {
  const principal = (res.locals as { principal?: Principal }).principal;
  if (principal === undefined) throw new Error('principalOf: the route is not behind the auth middleware');
  return principal;
}

/** A path parameter (express 5 gives string | string[] for wildcards). */
export function param(req: Request, name: string): string {
  const value = (req.params as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value.join('/') : (value ?? '');
}
