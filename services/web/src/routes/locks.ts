// Environment (or app) locks, through the conductor: lock.requested -> lock.state.
import { nameSchema } from '@deploybus/protocol';
import express, { type Router } from 'express';
import { z } from 'zod';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { bodyOf, parseNamed, parseQuery, parseWith } from '../validation.js';
import { param, principalOf, type RouteContext } from './route-context.js';

const locksQuery = z.strictObject({ env: nameSchema.optional(), app: nameSchema.optional() });
const lockBody = z.strictObject({ env: nameSchema, app: nameSchema.optional(), reason: z.string().trim().min(1, 'must say why (it is shown to whoever is refused)').max(2048), force: z.boolean().optional() });
const unlockQuery = z.strictObject({ app: nameSchema.optional(), force: z.enum(['true', 'false'], 'must be true or false').optional() });

export function lockRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  router.get('/api/locks', async (req, res) => {
    const q = parseQuery(locksQuery, req);
    const { result } = await ctx.gateway.query('locks', q);
    res.json(result);
  });

  router.post('/api/locks', async (req, res) => {
    const body = parseWith(lockBody, bodyOf(req));
    const by = principalOf(res).name;
    const state = await ctx.gateway.lock({ env: body.env, ...(body.app === undefined ? {} : { app: body.app }), action: 'lock', by, reason: body.reason, force: body.force ?? false });
    const scope = `${body.app === undefined ? '' : `${body.app} in `}${body.env}`;
    if (state.outcome === 'refused') throw new ForbiddenError(state.error ?? `${by} may not lock ${scope}`);
    if (state.outcome === 'already-locked') throw new ConflictError('already_locked', `${scope} is already locked by ${state.by ?? 'someone'} since ${state.since ?? '?'}${state.reason === undefined ? '' : `: "${state.reason}"`}`);
    res.status(201).json({ env: state.env, ...(state.app === undefined ? {} : { app: state.app }), by: state.by ?? by, reason: state.reason ?? body.reason, at: state.since ?? new Date().toISOString() });
  });

  router.delete('/api/locks/:env', async (req, res) => {
    const env = parseNamed('env', nameSchema, param(req, 'env'));
    const q = parseQuery(unlockQuery, req);
    const by = principalOf(res).name;
    const state = await ctx.gateway.lock({ env, ...(q.app === undefined ? {} : { app: q.app }), action: 'unlock', by, force: q.force === 'true' });
    const scope = `${q.app === undefined ? '' : `${q.app} in `}${env}`;
    switch (state.outcome) {
      case 'unlocked':
        res.json({ env, ...(q.app === undefined ? {} : { app: q.app }), unlocked: true, by });
        return;
      case 'not-locked':
        throw new NotFoundError(`${scope} is not locked`);
      case 'held-by-other':
        throw new ConflictError('held_by_other', `${scope} is locked by ${state.by ?? 'someone else'}; only they (or an admin, with force=true) can unlock it`);
      case 'refused':
        throw new ForbiddenError(state.error ?? `${by} may not unlock ${scope}`);
      default:
        throw new ConflictError('unexpected', `the conductor answered the unlock with ${state.outcome}`);
    }
  });

  return router;
}
