// What runs where: apps and their environments and hosts (from the agents' heartbeats, via
// keepalive's roster), the roster itself, an app's tags and the ledger's release matrix.
import { nameSchema } from '@deploybus/protocol';
import express, { type Router } from 'express';
import { z } from 'zod';
import type { RosterEntry } from '../bus-gateway.js';
import { parseNamed, parseQuery } from '../validation.js';
import { param, type RouteContext } from './route-context.js';

export interface AppSummary {
  readonly app: string;
  readonly envs: string[];
  /** Hosts whose deploy-agent serving the app is up. */
  readonly hosts: string[];
  /** Hosts whose deploy-agent serving the app is down (silent), and none is up there. */
  readonly downHosts: string[];
}

/**
 * Apps, their environments and the hosts serving them, from the deploy-agents in the roster; sorted.
 * An app whose agents are all down is still listed (with its down hosts): an outage must not make
 * an app vanish from the overview. A host with a down instance and an up one (a restart) is up.
 */
export function appsFromRoster(entries: readonly RosterEntry[]): AppSummary[] {
  const apps = new Map<string, { envs: Set<string>; hosts: Set<string>; downHosts: Set<string> }>();
  for (const entry of entries) {
    if (entry.service !== 'deploy-agent') continue;
    for (const a of entry.apps ?? []) {
      const summary = apps.get(a.app) ?? { envs: new Set<string>(), hosts: new Set<string>(), downHosts: new Set<string>() };
      summary.envs.add(a.env);
      (entry.state === 'up' ? summary.hosts : summary.downHosts).add(entry.host);
      apps.set(a.app, summary);
    }
  }
  const sorted = (s: Iterable<string>): string[] => [...s].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return [...apps.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([app, s]) => ({ app, envs: sorted(s.envs), hosts: sorted(s.hosts), downHosts: sorted([...s.downHosts].filter((host) => !s.hosts.has(host))) }));
}

const rosterQuery = z.strictObject({ service: nameSchema.optional() });
const matrixQuery = z.strictObject({ app: nameSchema, env: nameSchema });

export function fleetRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  router.get('/api/apps', async (_req, res) => {
    res.json(appsFromRoster(await ctx.gateway.roster('deploy-agent')));
  });

  router.get('/api/apps/:app/tags', async (req, res) => {
    const app = parseNamed('app', nameSchema, param(req, 'app'));
    const { result } = await ctx.gateway.query<Array<{ name: string; sha: string }>>('tags', { app });
    res.json(result);
  });

  router.get('/api/roster', async (req, res) => {
    const { service } = parseQuery(rosterQuery, req);
    const entries = await ctx.gateway.roster(service);
    res.json(
      entries.map((e) => ({
        service: e.service,
        host: e.host,
        instance: e.instance,
        version: e.version,
        state: e.state,
        lastSeen: e.lastSeen,
        firstSeen: e.firstSeen,
        uptimeMs: e.uptimeMs,
        ...(e.apps === undefined ? {} : { apps: e.apps }),
      })),
    );
  });

  router.get('/api/matrix', async (req, res) => {
    const { app, env } = parseQuery(matrixQuery, req);
    const { result } = await ctx.gateway.query('matrix', { app, env });
    res.json(result);
  });

  return router;
}
