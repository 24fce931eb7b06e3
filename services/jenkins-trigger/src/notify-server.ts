// The HTTP edge Jenkins reports builds to: POST /notify/jenkins, authenticated by the configured
// token (Authorization: Bearer, or ?token= for the Notification plugin, which cannot set headers),
// compared in constant time. A bad token gets 401 and nothing else happens.
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { BusLogger } from '@deploybus/bus';
import { listenHttp } from '@deploybus/runtime';
import { parseNotification, type BuildNotification } from './jenkins-notification.js';
import type { SecretLike } from '@deploybus/jenkins';

export const NOTIFY_PATH = '/notify/jenkins';

/** What became of one notification: told back to Jenkins in the answer. */
export type NotificationOutcome = 'published' | 'started' | 'duplicate' | 'unknown' | 'ignored';

export interface NotifyServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token: SecretLike;
  readonly logger: BusLogger;
  readonly onNotification: (notification: BuildNotification) => Promise<NotificationOutcome>;
}

export interface NotifyServer {
  /** The address it listens on, e.g. "http://127.0.0.1:8651". */
  readonly url: string;
  close(): Promise<void>;
}

export async function startNotifyServer(options: NotifyServerOptions): Promise<NotifyServer> {
  const { logger } = options;
  const app = express();
  app.disable('x-powered-by');

  app.post(NOTIFY_PATH, (request, response, next) => {
    if (!authorized(request, options.token)) {
      // The path only: the query may hold a (wrong) token.
      logger.warn({ path: request.path, remote: request.ip }, 'notification refused: missing or wrong token');
      response.status(401).set('www-authenticate', 'Bearer').json({ error: 'missing or wrong token' });
      return;
    }
    next();
  });
  app.post(NOTIFY_PATH, express.json({ limit: '256kb', type: () => true }), (request, response) => {
    const parsed = parseNotification(request.body as unknown);
    if (!parsed.ok) {
      logger.warn({ problem: parsed.problem }, 'notification refused: not a build notification');
      response.status(400).json({ error: parsed.problem });
      return;
    }
    options.onNotification(parsed.value).then(
      (outcome) => response.status(200).json({ outcome }),
      (error: unknown) => {
        // Most likely the bus is away: 503 so Jenkins' retry, or the polling, brings it again.
        logger.error({ job: parsed.value.job, number: parsed.value.number, err: error instanceof Error ? error.message : String(error) }, 'notification not handled; it can be sent again');
        response.status(503).json({ error: 'not handled, try again' });
      },
    );
  });
  app.use((_request: Request, response: Response) => {
    response.status(404).json({ error: `not found; notifications go to POST ${NOTIFY_PATH}` });
  });
  // express 5 needs the four-argument form to recognise an error handler.
  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    const status = typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : 500;
    const problem = status === 413 ? 'body too large' : status < 500 ? 'body is not valid JSON' : 'internal error';
    if (status >= 500) logger.error({ err: error instanceof Error ? error.message : String(error) }, 'notification endpoint failed');
    else logger.warn({ status, problem }, 'notification refused');
    response.status(status).json({ error: problem });
  });

  // The address is notify.http in jenkins-trigger's config.
  const listening = await listenHttp(app, { port: options.port, host: options.host, configKeys: { port: 'notify.http.port', host: 'notify.http.host' } });
  return { url: listening.url, close: () => listening.close() };
}

function authorized(request: Request, token: SecretLike): boolean {
  const header = request.get('authorization');
  let offered: string | undefined;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    offered = match?.[1];
  } else {
    const query = request.query['token'];
    offered = typeof query === 'string' ? query : undefined;
  }
  if (offered === undefined) return false;
  // Hashing first makes both sides the same length, so the comparison's time says nothing about the token.
  const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(offered), digest(token.reveal()));
}
