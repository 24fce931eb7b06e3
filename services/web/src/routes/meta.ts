// The API describing itself, and the liveness check.
import express, { type Router } from 'express';
import type { RouteContext } from './route-context.js';

export function metaRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  router.get('/api/openapi.json', (_req, res) => {
    res.json(ctx.openapi());
  });

  // Public: for load balancers. Says whether the bus is connected, but stays 200 (the process is alive).
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok', bus: ctx.gateway.bus.state, liveClients: ctx.live.listenerCount });
  });

  return router;
}
