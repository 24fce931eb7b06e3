// Deploys: request one (the conductor answers queued or refused), history, one deployment with its
// hosts, its logs, cancel, rollback, and the queue. Every request records who asked.
import { nameSchema } from '@deploybus/protocol';
import express, { type Router } from 'express';
import { z } from 'zod';
import { acceptedBody, deployBodySchema, deployFieldName, rollbackTarget, toApiDeployment, toDeployRequest, type LedgerDeployment } from '../deploy-requests.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { bodyOf, parseNamed, parseQuery, parseWith, queryInt } from '../validation.js';
import { param, principalOf, type RouteContext } from './route-context.js';

export const deploymentIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{7,127}$/, 'must be a deployment id (8 to 128 letters, digits, "_", ".", ":", "-")');

const historyQuery = z.strictObject({ app: nameSchema.optional(), env: nameSchema.optional(), offset: queryInt(0, 100_000).optional(), limit: queryInt(1, 1000).optional() });
const logsQuery = z.strictObject({ host: z.string().min(1).max(253).optional(), offset: queryInt(0, 100_000_000).optional(), limit: queryInt(1, 1000).optional(), tail: queryInt(1, 1000).optional() });
const cancelBody = z.strictObject({ reason: z.string().min(1).max(2048).optional() });
const rollbackBody = z.strictObject({ app: nameSchema, env: nameSchema });
/** How far back a rollback looks for the previous release. */
const ROLLBACK_HISTORY = 200;

export function deployRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  router.post('/api/deploys', async (req, res) => {
    const body = parseWith(deployBodySchema, bodyOf(req));
    const queued = await ctx.gateway.deploy(toDeployRequest(body, principalOf(res).name), deployFieldName);
    ctx.logger.info({ deploymentId: queued.deploymentId, app: queued.app, env: queued.env, ref: queued.ref, by: queued.requestedBy, position: queued.position }, 'deploy queued');
    res.status(202).location(`/api/deploys/${encodeURIComponent(queued.deploymentId)}`).json(acceptedBody(queued));
  });

  router.get('/api/deploys', async (req, res) => {
    const q = parseQuery(historyQuery, req);
    const { result } = await ctx.gateway.query<LedgerDeployment[]>('history', q);
    res.json(result.map(toApiDeployment));
  });

  router.get('/api/deploys/:id', async (req, res) => {
    const deploymentId = parseNamed('id', deploymentIdSchema, param(req, 'id'));
    const { result } = await ctx.gateway.query<LedgerDeployment | null>('deployment', { deploymentId }, (f) => (f === 'deploymentId' ? 'id' : f));
    if (result === null) throw new NotFoundError(`there is no deployment ${deploymentId}`);
    res.json({ ...toApiDeployment(result), hosts: result.hosts ?? [], options: result.options ?? null });
  });

  router.get('/api/deploys/:id/logs', async (req, res) => {
    const deploymentId = parseNamed('id', deploymentIdSchema, param(req, 'id'));
    const q = parseQuery(logsQuery, req);
    const { result, truncated } = await ctx.gateway.query('logs', { deploymentId, ...q }, (f) => (f === 'deploymentId' ? 'id' : f));
    // Cut to fit one bus message: fewer lines than asked, the rest from offset + lines received (a tail keeps its newest).
    if (truncated) res.setHeader('X-Deploybus-Truncated', 'true');
    res.json(result);
  });

  router.post('/api/deploys/:id/cancel', async (req, res) => {
    const deploymentId = parseNamed('id', deploymentIdSchema, param(req, 'id'));
    const { reason } = parseWith(cancelBody, bodyOf(req));
    const by = principalOf(res).name;
    const answer = await ctx.gateway.cancel({ deploymentId, by, reason: reason ?? `cancelled by ${by}` });
    if (answer.outcome === 'not-found') throw new NotFoundError(`there is no deployment ${deploymentId}`);
    if (answer.outcome === 'already-finished') throw new ConflictError('already_finished', `deployment ${deploymentId} already finished (${answer.state ?? 'finished'}); there is nothing to cancel`);
    if (answer.outcome === 'finishing') throw new ConflictError('finishing', `deployment ${deploymentId} is already ending (rolling back after a failure, or past its last batch); it is too late to cancel it`);
    res.status(202).json({ deploymentId, result: answer.outcome, ...(answer.state === undefined ? {} : { state: answer.state }) });
  });

  router.post('/api/rollback', async (req, res) => {
    const { app, env } = parseWith(rollbackBody, bodyOf(req));
    const { result } = await ctx.gateway.query<LedgerDeployment[]>('history', { app, env, limit: ROLLBACK_HISTORY });
    const target = rollbackTarget(result);
    if (target.previous === undefined) {
      const why = target.current === undefined ? `nothing of ${app} has been deployed to ${env} successfully yet` : `no succeeded deployment of ${app} in ${env} before the current one (${target.current.ref})`;
      throw new ConflictError('no_previous_release', `cannot roll back: ${why}`);
    }
    // Back to the commit that ran, pinned: a branch or tag moved since must not change what a rollback
    // deploys. The ref as it was deployed (usually a tag) is its label, so history reads "v1.4.0".
    const { ref, sha } = target.previous;
    if (sha === undefined) throw new ConflictError('no_previous_release', `cannot roll back: the ledger does not say which commit ${target.previous.id} (${ref}) deployed; deploy a ref by hand`);
    const queued = await ctx.gateway.deploy({ ...toDeployRequest({ app, env, ref }, principalOf(res).name), sha }, deployFieldName);
    res.status(202).location(`/api/deploys/${encodeURIComponent(queued.deploymentId)}`).json({ ...acceptedBody(queued), rollbackTo: { deploymentId: target.previous.id, ref, sha }, rollbackFrom: { deploymentId: target.current.id, ref: target.current.ref, sha: target.current.sha ?? null } });
  });

  router.get('/api/queue', async (req, res) => {
    const q = parseQuery(historyQuery, req);
    const { result } = await ctx.gateway.query<LedgerDeployment[]>('queue', q);
    res.json(result.map(toApiDeployment));
  });

  return router;
}
