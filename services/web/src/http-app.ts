// The express app: security headers, body parsing with errors that name the problem, the routes,
// and one error handler that answers every failure as `{"error": {code, message, field?}}`.
import express, { type NextFunction, type Request, type Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { ApiError, BadJsonError } from './errors.js';
import { mountRoutes, type RouteModule } from './routes/index.js';
import type { RouteContext } from './routes/route-context.js';

export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export interface WebAppOptions {
  readonly context: RouteContext;
  readonly bodyLimitBytes: number;
  readonly registry?: Registry;
  /** Route modules added after the built-in ones (e.g. subscriptions, chat). */
  readonly extraRoutes?: readonly RouteModule[];
}

export function createWebApp(options: WebAppOptions): express.Express {
  const { context: ctx } = options;
  const app = express();
  app.disable('x-powered-by');

  if (options.registry !== undefined) {
    const requests = new Counter({ name: 'deploybus_web_requests_total', help: 'HTTP requests answered by the web, by route and status.', labelNames: ['method', 'route', 'status'], registers: [options.registry] });
    app.use((req, res, next) => {
      res.on('finish', () => {
        // The route pattern, not the URL, so ids do not explode the label set.
        const route = (req.route as { path?: string } | undefined)?.path ?? (res.statusCode === 404 ? 'unmatched' : 'middleware');
        requests.inc({ method: req.method, route: String(route), status: String(res.statusCode) });
      });
      next();
    });
  }

  app.use((_req, res, next) => {
    // The UI loads its script and styles from /assets only, so a script injected into a page would not run.
    // Inline styles stay allowed for the sign-in page's one <style> block.
    res.set({ 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'same-origin', 'Content-Security-Policy': CONTENT_SECURITY_POLICY });
    next();
  });
  app.use(express.json({ limit: options.bodyLimitBytes, type: ['application/json', 'application/*+json'] }));

  mountRoutes(app, ctx, options.extraRoutes);

  app.use((req: Request, res: Response) => {
    res.status(404).type('text/plain').send(`no such page: ${req.path}\n`);
  });

  // Express needs all four parameters to recognise an error handler.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known = asApiError(error);
    if (known === undefined) {
      ctx.logger.error({ err: error instanceof Error ? (error.stack ?? error.message) : String(error), method: req.method, path: req.path }, 'request failed');
    }
    const answer = known ?? new ApiError(500, 'internal', 'the web server failed to handle the request; see its log');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (answer.status >= 500 && known !== undefined) ctx.logger.warn({ code: answer.code, method: req.method, path: req.path }, answer.message);
    if (req.path.startsWith('/api/') || req.path === '/api') {
      res.status(answer.status).json(answer.toBody());
    } else {
      res.status(answer.status).type('text/plain').send(`${answer.message}\n`);
    }
  });
  return app;
}

/** Body-parser failures as API errors; ApiErrors as they are; anything else undefined. */
function asApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  // The router's decodeURIComponent of a path parameter ("/api/deploys/%E0%A4%A"): the client's fault, not ours.
  if (error instanceof URIError) return new ApiError(400, 'bad_path', 'the address holds a percent-escape that is not valid UTF-8 (as in %ZZ or %E0%A4%A)');
  const parserError = error as { type?: unknown; status?: unknown; message?: unknown } | null;
  if (typeof parserError === 'object' && parserError !== null && typeof parserError.type === 'string') {
    if (parserError.type === 'entity.parse.failed') return new BadJsonError(String(parserError.message ?? 'parse error'), { cause: error });
    if (parserError.type === 'entity.too.large') return new ApiError(413, 'body_too_large', 'the request body is larger than this server accepts');
    if (parserError.type === 'encoding.unsupported' || parserError.type === 'charset.unsupported') return new ApiError(415, 'unsupported_encoding', String(parserError.message ?? 'unsupported body encoding'));
  }
  return undefined;
}
