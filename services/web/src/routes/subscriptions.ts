// HTTP callback subscriptions, through the notifier: subscription.requested -> subscription.state. The
// notifier checks every field (destination allow-list included) and names the bad one; a refusal
// becomes a 400 with that field. The signing secret is shown once, in the answer to its creation.
import { isMessageOfType, type PayloadInputOf, type PayloadOf } from '@deploybus/protocol';
import express, { type Router } from 'express';
import { z } from 'zod';
import { ApiError, InvalidFieldError, NotFoundError } from '../errors.js';
import { bodyOf, parseNamed, parseWith } from '../validation.js';
import { param, principalOf, type RouteContext } from './route-context.js';

const subscriptionId = z.string().regex(/^sub-[a-z0-9]{8,64}$/, 'must be a subscription id ("sub-" and letters or digits)');
const createBody = z.strictObject({
  url: z.string().min(1).max(2048),
  events: z.array(z.string().min(1).max(128)).min(1).max(32),
  app: z.string().min(1).max(255).optional(),
  env: z.string().min(1).max(255).optional(),
  secret: z.string().min(1).max(256).optional(),
  description: z.string().max(512).optional(),
});

/** Any notifier may answer (they share a work queue). */
const NOTIFIER = 'notifier';

type Answer = PayloadOf<'subscription.state'>;

async function askNotifier(ctx: RouteContext, payload: PayloadInputOf<'subscription.requested'>): Promise<Answer> {
  const reply = await ctx.gateway.ask(ctx.gateway.message('subscription.requested', payload), NOTIFIER);
  if (!isMessageOfType(reply, 'subscription.state')) throw new ApiError(502, 'notifier_error', `the notifier answered with ${reply.type}`);
  const answer = reply.payload;
  if (answer.outcome === 'refused') throw new InvalidFieldError(answer.field ?? '', (answer.error ?? 'refused').replace(/^[^:]*:\s*/, ''));
  if (answer.outcome === 'not-found') throw new NotFoundError(answer.error ?? 'no such subscription');
  // The notifier could not place a new subscription in the event log: no conductor answered it.
  if (answer.outcome === 'unavailable') throw new ApiError(503, 'conductor_unavailable', answer.error ?? 'the notifier cannot read the event log now; try again');
  return answer;
}

export function subscriptionRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  router.get('/api/subscriptions', async (_req, res) => {
    const answer = await askNotifier(ctx, { action: 'list', by: principalOf(res).name });
    res.json(answer.subscriptions ?? []);
  });

  router.post('/api/subscriptions', async (req, res) => {
    const body = parseWith(createBody, bodyOf(req));
    const answer = await askNotifier(ctx, { action: 'create', ...body, by: principalOf(res).name });
    res.status(201).json({ ...answer.subscription, ...(answer.secret === undefined ? {} : { secret: answer.secret }) });
  });

  router.get('/api/subscriptions/:id', async (req, res) => {
    const id = parseNamed('id', subscriptionId, param(req, 'id'));
    res.json((await askNotifier(ctx, { action: 'get', id, by: principalOf(res).name })).subscription);
  });

  router.delete('/api/subscriptions/:id', async (req, res) => {
    const id = parseNamed('id', subscriptionId, param(req, 'id'));
    const answer = await askNotifier(ctx, { action: 'delete', id, by: principalOf(res).name });
    res.json({ id: answer.subscription?.id ?? id, deleted: true });
  });

  router.post('/api/subscriptions/:id/enable', async (req, res) => {
    const id = parseNamed('id', subscriptionId, param(req, 'id'));
    res.status(202).json((await askNotifier(ctx, { action: 'enable', id, by: principalOf(res).name })).subscription);
  });

  return router;
}
