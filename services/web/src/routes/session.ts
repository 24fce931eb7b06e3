// Sign-in, sign-out and who am I. POST /login is protected against cross-site requests by the
// SameSite=Strict cookie and an Origin check (a browser always sends Origin on a cross-site POST).
import express, { type Request, type Response, type Router } from 'express';
import { clearedSessionCookie, cookieValue, SESSION_COOKIE, sessionCookie } from '../auth.js';
import { CsrfError, UnauthenticatedError } from '../errors.js';
import { LOGIN_PAGE_CSP, renderLoginPage, safeNext } from '../login-page.js';
import { principalOf, type RouteContext } from './route-context.js';

/**
 * Refuses a POST whose Origin (a browser always sends one on a cross-site POST) names another host.
 * Hosts, not schemes, are compared: behind a proxy that ends TLS the web sees http while the browser
 * says https, and a page of the same host is the same site either way.
 */
export function checkSameOrigin(req: Request): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    throw new CsrfError(`cross-site request refused: Origin ${origin} is not this site`);
  }
  const host = (req.headers['x-forwarded-host'] === undefined ? req.headers.host : String(req.headers['x-forwarded-host']).split(',')[0]?.trim()) ?? '';
  if (originHost !== host.toLowerCase()) throw new CsrfError(`cross-site request refused: Origin ${origin} is not this site (${host})`);
}

function sendLoginPage(res: Response, status: number, options: Parameters<typeof renderLoginPage>[0]): void {
  res.status(status).set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': LOGIN_PAGE_CSP }).send(renderLoginPage(options));
}

export function sessionRoutes(ctx: RouteContext): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  router.get('/login', (req, res) => {
    const next = safeNext(req.query['next']);
    const cookie = cookieValue(req, SESSION_COOKIE);
    if (cookie !== undefined) {
      try {
        ctx.auth.readSession(cookie);
        res.redirect(303, next ?? '/');
        return;
      } catch (error) {
        if (!(error instanceof UnauthenticatedError)) throw error;
        sendLoginPage(res, 200, { next, notice: error.message.replace(/; sign in again$/, '.').replace(/^./, (c) => c.toUpperCase()) });
        return;
      }
    }
    sendLoginPage(res, 200, { next });
  });

  router.post('/login', form, (req, res) => {
    try {
      checkSameOrigin(req);
    } catch (error) {
      if (!(error instanceof CsrfError)) throw error;
      sendLoginPage(res, 403, { error: `Sign-in refused: the form was sent from another site. Open ${req.protocol}://${req.headers.host ?? ''}/login and sign in there.` });
      return;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const username = typeof body['username'] === 'string' ? body['username'].trim() : '';
    const password = typeof body['password'] === 'string' ? body['password'] : '';
    const next = safeNext(body['next']);
    if (username === '') return sendLoginPage(res, 400, { error: 'Enter your user name.', next });
    if (password === '') return sendLoginPage(res, 400, { error: 'Enter your password.', username, next });
    const address = req.socket.remoteAddress ?? '';
    const wait = ctx.loginThrottle.retryAfterMs(username, address);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      res.setHeader('Retry-After', String(seconds));
      return sendLoginPage(res, 429, { error: `Too many failed sign-ins for ${username}. Wait ${seconds} s and try again.`, username, next });
    }
    const user = ctx.auth.checkPassword(username, password);
    if (user === undefined) {
      ctx.loginThrottle.failed(username, address);
      ctx.logger.info({ username: username.slice(0, 128), address }, 'sign-in failed');
      return sendLoginPage(res, 401, { error: 'That user name and password do not match a configured user. Check both and try again.', username, next });
    }
    ctx.loginThrottle.succeeded(username, address);
    ctx.logger.info({ user }, 'signed in');
    res.setHeader('Set-Cookie', sessionCookie(ctx.auth.issueSession(user), ctx.auth.sessionTtlMs, ctx.secureCookies || req.secure));
    res.redirect(303, next ?? '/');
  });

  router.post('/logout', (req, res) => {
    checkSameOrigin(req);
    res.setHeader('Set-Cookie', clearedSessionCookie(ctx.secureCookies || req.secure));
    res.redirect(303, '/login');
  });

  router.get('/api/session', (_req, res) => {
    const principal = principalOf(res);
    res.json({ user: principal.name, via: principal.via, csrfToken: principal.csrfToken ?? null });
  });

  return router;
}
