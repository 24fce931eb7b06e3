// The browser UI: its pages are the one index.html (the script routes by path), filled with the user
// and CSRF token; a browser that is not signed in is sent to /login and back. Assets are public.
import { stat } from 'node:fs/promises';
import express, { type Request, type Response, type Router } from 'express';
import { cookieValue, SESSION_COOKIE } from '../auth.js';
import { UnauthenticatedError } from '../errors.js';
import { contentTypeOf } from '../ui-shell.js';
import { param, type RouteContext } from './route-context.js';

/** The UI's routes; each serves index.html. */
export const UI_PAGES = ['/', '/apps/:app/:env', '/deploy', '/deploys/:id', '/history', '/locks', '/roster', '/callbacks'] as const;

export function uiRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  const page = async (req: Request, res: Response): Promise<void> => {
    const cookie = cookieValue(req, SESSION_COOKIE);
    let session: { user: string; csrfToken: string } | undefined;
    if (cookie !== undefined) {
      try {
        session = ctx.auth.readSession(cookie);
      } catch (error) {
        if (!(error instanceof UnauthenticatedError)) throw error;
      }
    }
    if (session === undefined) {
      res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    const html = await ctx.ui.page(session.user, session.csrfToken);
    res.status(200).set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).send(html);
  };
  for (const path of UI_PAGES) router.get(path, page);

  router.get('/assets/*path', async (req, res) => {
    const file = ctx.ui.assetPath(param(req, 'path'));
    const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
    if (file === undefined || info === undefined || !info.isFile()) {
      res.status(404).type('text/plain').send(`no such asset: ${req.path}\n`);
      return;
    }
    // No build step means no hashed names: browsers revalidate every time (cheap: 304 by ETag).
    res.setHeader('Content-Type', contentTypeOf(file));
    res.sendFile(file, { cacheControl: false, headers: { 'Cache-Control': 'no-cache' }, dotfiles: 'deny' });
  });

  return router;
}
