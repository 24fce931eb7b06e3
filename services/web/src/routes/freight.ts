// Freight compatibility: `POST /api/0/deploys/` as getsentry/freight takes it ({app, env, ref,
// params, force}; env defaults to production), answered 201 in Freight's deploy shape, so chat-bot
// scripts written for Freight keep working. Freight's special refs `:current` and `:previous`
// resolve from the ledger's history. `params` has no meaning here (deploybus agents run configured
// steps, not parameterised providers): it is accepted, checked to be an object, and ignored.
import { nameSchema, refSchema } from '@deploybus/protocol';
import express, { type Router } from 'express';
import { z } from 'zod';
import { deployFieldName, rollbackTarget, toDeployRequest, type LedgerDeployment } from '../deploy-requests.js';
import { ApiError } from '../errors.js';
import { bodyOf, parseWith } from '../validation.js';
import { principalOf, type RouteContext } from './route-context.js';

const booleanish = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']).transform((s) => ['true', '1', 'yes', 'on'].includes(s))]);
const freightBody = z.object({
  app: nameSchema,
  env: nameSchema.default('production'),
  ref: z.union([z.literal(':current'), z.literal(':previous'), refSchema]),
  params: z
    .union([z.record(z.string(), z.unknown()), z.string().transform((s, c) => {
      try {
        const value: unknown = JSON.parse(s);
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
      } catch {
        // reported below
      }
      c.addIssue({ code: 'custom', message: 'must be a JSON object' });
      return z.NEVER;
    })])
    .nullable()
    .optional(),
  force: booleanish.optional(),
  /** Freight lets a key-authenticated caller name the user; deploybus records the token's name instead, so it is ignored. */
  user: z.string().max(128).optional(),
});

/** A Freight-style error: Freight answers `{error, error_name}`; the deploybus `error` object is kept alongside for its clients. */
function freightError(error: ApiError): { error: string; error_name: string; field?: string } {
  return { error: error.message, error_name: error.code, ...(error.field === undefined ? {} : { field: error.field }) };
}

export function freightRoutes(ctx: RouteContext): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '64kb' });

  router.post('/api/0/deploys/', form, async (req, res) => {
    try {
      const body = parseWith(freightBody, bodyOf(req));
      let ref = body.ref;
      if (ref === ':current' || ref === ':previous') {
        const { result } = await ctx.gateway.query<LedgerDeployment[]>('history', { app: body.app, env: body.env, limit: 200 });
        const target = rollbackTarget(result);
        const chosen = ref === ':current' ? target.current : target.previous;
        if (chosen === undefined) throw new ApiError(400, 'invalid_ref', `ref ${ref}: there is no ${ref === ':current' ? 'current' : 'previous'} succeeded deployment of ${body.app} in ${body.env}`, 'ref');
        ref = chosen.sha ?? chosen.ref;
      }
      const queued = await ctx.gateway.deploy(toDeployRequest({ app: body.app, env: body.env, ref, ...(body.force === undefined ? {} : { force: body.force }) }, principalOf(res).name), deployFieldName);
      const now = new Date().toISOString();
      res.status(201).json({
        id: queued.deploymentId,
        name: `${queued.app}/${queued.env}#${queued.deploymentId}`,
        app: { id: queued.app, name: queued.app },
        user: { id: queued.requestedBy, name: queued.requestedBy },
        environment: queued.env,
        sha: queued.sha ?? null,
        ref: queued.ref,
        number: null,
        status: 'pending',
        duration: null,
        estimatedDuration: null,
        dateCreated: now,
        dateStarted: null,
        dateFinished: null,
        position: queued.position,
      });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      res.status(error.status).json({ ...freightError(error), ...error.toBody() });
    }
  });

  return router;
}
