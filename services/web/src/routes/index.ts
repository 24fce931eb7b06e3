// Where every route module is mounted. Public routes first (sign-in, health, the UI shell, which does
// its own redirect to /login); then the auth gate for everything under /api; then the API modules.
// Adding a module is one line in API_MODULES (its routes carry full paths, and openapi.yaml must
// describe them: the OpenAPI test fails otherwise).
import type { Express, NextFunction, Request, Response, Router } from 'express';
import { NotFoundError } from '../errors.js';
import { deployRoutes } from './deploys.js';
import { eventRoutes } from './events.js';
import { fleetRoutes } from './fleet.js';
import { freightRoutes } from './freight.js';
import { lockRoutes } from './locks.js';
import { metaRoutes } from './meta.js';
import type { RouteContext } from './route-context.js';
import { sessionRoutes } from './session.js';
import { uiRoutes } from './ui.js';
import { chatRoutes } from './chat.js';
import { subscriptionRoutes } from './subscriptions.js';

export type RouteModule = (ctx: RouteContext) => Router;

/** Modules whose /api routes sit behind the auth gate. */
export const API_MODULES: readonly RouteModule[] = [sessionRoutes, fleetRoutes, deployRoutes, lockRoutes, eventRoutes, freightRoutes, metaRoutes, subscriptionRoutes, chatRoutes];

export function mountRoutes(app: Express, ctx: RouteContext, extra: readonly RouteModule[] = []): void {
  app.use(uiRoutes(ctx));
  app.use('/api', (req: Request, res: Response, next: NextFunction) => {
    (res.locals as { principal?: unknown }).principal = ctx.auth.authenticate(req);
    next();
  });
  for (const module of [...API_MODULES, ...extra]) app.use(module(ctx));
  app.use('/api', (req: Request) => {
    throw new NotFoundError(`no such API route: ${req.method} ${req.originalUrl.split('?')[0] ?? ''}; see /api/openapi.json`);
  });
}
