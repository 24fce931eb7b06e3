// The webhook endpoints (express 5). The raw body is kept for the HMAC; JSON is parsed here so a bad
// body gets a 400 that says what is wrong. A push is answered 202 only after the broker confirmed
// every event, and 503 when the bus is down, so the sender retries instead of the event being lost.
import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Bus } from '@deploybus/bus';
import type { Logger, Secret } from '@deploybus/runtime';
import { callbackAllowed, sendDockerhubCallback, type DockerhubCallbackBody } from './dockerhub-callback.js';
import type { DeliveryGate } from './delivery-gate.js';
import { tokensMatch, verifyGithubSignature } from './webhook-auth.js';
import { mapDockerhub, mapGithub, mapGitlab, type WebhookEvent, type WebhookOutcome } from './webhook-payloads.js';
import { stableMessageId } from './message-ids.js';

export interface WebhookServerOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly gate: DeliveryGate;
  readonly bodyLimitBytes: number;
  readonly github?: { readonly secret: Secret } | undefined;
  readonly gitlab?: { readonly token: Secret } | undefined;
  readonly dockerhub?: { readonly token?: Secret | undefined; readonly callbackHosts: readonly string[] } | undefined;
  /** Called for Docker Hub callbacks (tests may pass their own). */
  readonly sendCallback?: (url: string, body: DockerhubCallbackBody) => Promise<void>;
}

type Provider = 'github' | 'gitlab' | 'dockerhub';

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Stable message ids per delivery, so a consumer can drop a resend that slipped past the gate. */
function messageId(key: string, index: number): string {
  return stableMessageId(`${key}#${index}`);
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseBody(req: Request): unknown {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (raw.length === 0) throw new HttpProblem(400, 'the request body is empty; a JSON payload is expected');
  let text = raw.toString('utf8');
  // GitHub can send application/x-www-form-urlencoded with the JSON in a `payload` field.
  if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw new HttpProblem(400, 'form body has no "payload" field');
    text = payload;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpProblem(400, `the body is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

export function createWebhookApp(options: WebhookServerOptions): express.Express {
  const { bus, logger, gate } = options;
  const app = express();
  app.disable('x-powered-by');
  const raw = express.raw({ type: () => true, limit: options.bodyLimitBytes });

  const publish = async (key: string, events: readonly WebhookEvent[]): Promise<string[]> => {
    if (bus.state !== 'connected') throw new HttpProblem(503, `the message bus is ${bus.state}; retry later`);
    const ids: string[] = [];
    try {
      for (const [index, event] of events.entries()) {
        const message = event.type === 'commit.pushed' ? bus.message('commit.pushed', event.payload, { id: messageId(key, index) }) : bus.message('image.pushed', event.payload, { id: messageId(key, index) });
        await bus.publish(message);
        ids.push(message.id);
      }
    } catch (error) {
      logger.warn({ delivery: key, err: error instanceof Error ? error.message : String(error) }, 'publish failed; answering 503 so the sender retries');
      throw new HttpProblem(503, 'the message bus did not confirm the event; retry later');
    }
    return ids;
  };

  /** Answers an outcome: ping/ignore 2xx, invalid 422, publish 202 once (200 for a repeated delivery). */
  const answer = async (res: Response, provider: Provider, key: string, outcome: WebhookOutcome): Promise<{ published: number }> => {
    switch (outcome.kind) {
      case 'ping':
        res.status(200).json({ ok: true, message: outcome.reason });
        return { published: 0 };
      case 'ignore':
        logger.info({ provider, reason: outcome.reason }, 'webhook ignored');
        res.status(202).json({ ignored: true, reason: outcome.reason });
        return { published: 0 };
      case 'invalid':
        logger.warn({ provider, reason: outcome.reason }, 'webhook refused');
        res.status(422).json({ error: outcome.reason });
        return { published: 0 };
      case 'publish': {
        const result = await gate.once(key, () => publish(key, outcome.events));
        if (result.duplicate) {
          logger.info({ provider, delivery: key }, 'repeated delivery; published before, not again');
          res.status(200).json({ duplicate: true, message: 'this delivery was published before' });
          return { published: 0 };
        }
        logger.info({ provider, delivery: key, ids: result.value }, 'webhook published');
        res.status(202).json({ published: result.value });
        return { published: result.value.length };
      }
    }
  };

  const bodyHash = (req: Request): string => createHash('sha256').update(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)).digest('hex');

  app.get('/healthz', (_req, res) => {
    res.status(bus.state === 'connected' ? 200 : 503).json({ status: bus.state === 'connected' ? 'ok' : 'degraded', bus: bus.state });
  });

  app.post('/webhooks/github', raw, async (req, res) => {
    const github = options.github;
    if (!github) throw new HttpProblem(404, 'GitHub webhooks are not configured here (config key github.secret)');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!verifyGithubSignature(github.secret.reveal(), body, header(req, 'x-hub-signature-256'))) {
      logger.warn({ provider: 'github', delivery: header(req, 'x-github-delivery')?.slice(0, 100) }, 'webhook signature missing or wrong; nothing published');
      throw new HttpProblem(401, 'X-Hub-Signature-256 is missing or does not match the configured secret');
    }
    const outcome = mapGithub(header(req, 'x-github-event'), parseBody(req));
    const delivery = header(req, 'x-github-delivery');
    await answer(res, 'github', `github:${delivery ? delivery.slice(0, 200) : bodyHash(req)}`, outcome);
  });

  app.post('/webhooks/gitlab', raw, async (req, res) => {
    const gitlab = options.gitlab;
    if (!gitlab) throw new HttpProblem(404, 'GitLab webhooks are not configured here (config key gitlab.token)');
    if (!tokensMatch(gitlab.token.reveal(), header(req, 'x-gitlab-token'))) {
      logger.warn({ provider: 'gitlab' }, 'webhook token missing or wrong; nothing published');
      throw new HttpProblem(401, 'X-Gitlab-Token is missing or does not match the configured token');
    }
    const outcome = mapGitlab(header(req, 'x-gitlab-event'), parseBody(req));
    const delivery = header(req, 'x-gitlab-event-uuid') ?? header(req, 'idempotency-key');
    await answer(res, 'gitlab', `gitlab:${delivery ? delivery.slice(0, 200) : bodyHash(req)}`, outcome);
  });

  const dockerhub = async (req: Request, res: Response): Promise<void> => {
    const config = options.dockerhub;
    if (!config) throw new HttpProblem(404, 'Docker Hub webhooks are not configured here (config key dockerhub)');
    const given = typeof req.params['token'] === 'string' ? req.params['token'] : typeof req.query['token'] === 'string' ? req.query['token'] : undefined;
    if (config.token !== undefined && !tokensMatch(config.token.reveal(), given)) {
      logger.warn({ provider: 'dockerhub' }, 'webhook token missing or wrong; nothing published');
      throw new HttpProblem(401, 'the token in the webhook URL is missing or does not match the configured one');
    }
    const { outcome, callbackUrl } = mapDockerhub(parseBody(req));
    const { published } = await answer(res, 'dockerhub', `dockerhub:${bodyHash(req)}`, outcome);
    if (published === 0 || callbackUrl === undefined) return;
    if (!callbackAllowed(callbackUrl, config.callbackHosts)) {
      logger.warn({ provider: 'dockerhub', callbackUrl: callbackUrl.slice(0, 300) }, 'callback URL is not Docker Hub\'s nor an allowed host; not called');
      return;
    }
    const event = outcome.kind === 'publish' ? outcome.events[0] : undefined;
    const what = event?.type === 'image.pushed' ? `${event.payload.repository}:${event.payload.tag}` : 'image';
    const send = options.sendCallback ?? sendDockerhubCallback;
    await send(callbackUrl, { state: 'success', description: `deploybus published image.pushed for ${what}`, context: 'deploybus', target_url: callbackUrl }).catch((error: unknown) => {
      logger.warn({ provider: 'dockerhub', err: error instanceof Error ? error.message : String(error) }, 'Docker Hub callback failed');
    });
  };
  app.post('/webhooks/dockerhub', raw, dockerhub);
  app.post('/webhooks/dockerhub/:token', raw, dockerhub);

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'no such endpoint; webhooks go to POST /webhooks/github, /webhooks/gitlab or /webhooks/dockerhub' });
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof HttpProblem) {
      res.status(error.status).json({ error: error.message });
      return;
    }
    const type = typeof error === 'object' && error !== null ? (error as { type?: unknown }).type : undefined;
    if (type === 'entity.too.large') {
      res.status(413).json({ error: `the body is over the ${options.bodyLimitBytes}-byte limit (config key http.bodyLimitBytes)` });
      return;
    }
    const status = typeof error === 'object' && error !== null ? (error as { status?: unknown }).status : undefined;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: error instanceof Error ? error.message : 'bad request' });
      return;
    }
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'webhook handler failed');
    res.status(500).json({ error: 'internal error; retry later' });
  });
  return app;
}
