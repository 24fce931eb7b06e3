// A chat command endpoint, Hubot style: a chat bot forwards what people type ("deploy shop/v1.4.1 to
// production") and gets back the same answer as POST /api/deploys, plus a sentence to post in the room.
// The command is parsed here; the deploy goes through the same gateway (and gates) as the API's.
import { nameSchema, refSchema } from '@deploybus/protocol';
import express, { type Router } from 'express';
import { z } from 'zod';
import { acceptedBody, toDeployRequest } from '../deploy-requests.js';
import { InvalidFieldError } from '../errors.js';
import { bodyOf, parseWith } from '../validation.js';
import { principalOf, type RouteContext } from './route-context.js';

const chatBody = z.strictObject({
  text: z.string().min(1).max(1024),
  /** Who typed it in the chat room, shown in the answer; the deploy is requested as the caller (token or session). */
  user: z.string().min(1).max(128).optional(),
});

export const CHAT_USAGE = 'say "deploy APP/REF to ENV" (add "force" to skip the lock and build gates, admins only)';

/** An optional bot name ("hubot", "@deploybot:"), "deploy", APP/REF, "to", ENV, an optional "force". */
const DEPLOY_COMMAND = /^\s*(?:@?[A-Za-z0-9_-]+[:,]?\s+)?deploy\s+(\S+?)\/(\S+)\s+to\s+(\S+?)(\s+force!?)?[.!]?\s*$/i;

export interface ChatDeploy {
  readonly app: string;
  readonly ref: string;
  readonly env: string;
  readonly force: boolean;
}

/** Parses a chat command; throws InvalidFieldError on `text` saying what is wrong and what to say instead. */
export function parseChatCommand(text: string): ChatDeploy {
  const match = DEPLOY_COMMAND.exec(text);
  if (match === null) {
    if (/\bdeploy\s+[^/\s]+\s+to\b/i.test(text)) throw new InvalidFieldError('text', `name the ref to deploy: ${CHAT_USAGE}`);
    throw new InvalidFieldError('text', `not a command deploybus knows; ${CHAT_USAGE}`);
  }
  const [, app = '', ref = '', env = '', force] = match;
  const check = <S extends z.ZodType>(what: string, schema: S, value: string): z.output<S> => {
    const result = schema.safeParse(value);
    if (!result.success) throw new InvalidFieldError('text', `${what} ${JSON.stringify(value.slice(0, 100))}: ${result.error.issues[0]?.message ?? 'invalid'}`);
    return result.data;
  };
  return { app: check('app', nameSchema, app), ref: check('ref', refSchema, ref), env: check('env', nameSchema, env), force: force !== undefined };
}

export function chatRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  router.post('/api/chat', async (req, res) => {
    const body = parseWith(chatBody, bodyOf(req));
    const command = parseChatCommand(body.text);
    const by = principalOf(res).name;
    const queued = await ctx.gateway.deploy(toDeployRequest({ app: command.app, env: command.env, ref: command.ref, ...(command.force ? { force: true } : {}) }, by), (field) => (field === 'app' || field === 'env' || field === 'ref' ? 'text' : field));
    const who = body.user ?? by;
    const when = queued.position === 0 ? 'starting now' : `queued behind ${queued.position}`;
    res.status(202).json({ ...acceptedBody(queued), reply: `${who}: deploying ${queued.app} ${queued.ref} to ${queued.env}, ${when} (${queued.deploymentId})` });
  });

  return router;
}
