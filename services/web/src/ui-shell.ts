// The browser UI is static files in services/web/ui/ (H2's; no build step). The server fills the page
// template with the signed-in user and the session's CSRF token, and serves the rest as assets.
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from './errors.js';

/** services/web/ui, whether this runs from src/ (tests) or dist/. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** The UI's files are not there: a deployment problem, answered with a 500 that says so. */
export class UiMissingError extends ApiError {
  override readonly name = 'UiMissingError';
  constructor(file: string, options?: { cause?: unknown }) {
    super(500, 'ui_missing', `the web UI is not installed: ${file} is missing (the API under /api works without it)`, undefined, options);
  }
}

export class UiShell {
  readonly dir: string;

  constructor(dir: string = DEFAULT_UI_DIR) {
    this.dir = resolve(dir);
  }

  /** index.html with {{csrfToken}} and {{user}} filled in, HTML-escaped. Read per request: it is small, and edits show at once. */
  async page(user: string, csrfToken: string): Promise<string> {
    const file = resolve(this.dir, 'index.html');
    let template: string;
    try {
      template = await readFile(file, 'utf8');
    } catch (error) {
      throw new UiMissingError(file, { cause: error });
    }
    return template.replaceAll('{{csrfToken}}', escapeHtml(csrfToken)).replaceAll('{{user}}', escapeHtml(user));
  }

  /** The absolute path of an asset inside the UI directory, or undefined for anything outside it or hidden. */
  assetPath(relative: string): string | undefined {
    if (relative === '' || relative.includes('\0')) return undefined;
    if (relative.split(/[\\/]/).some((part) => part.startsWith('.'))) return undefined;
    const path = resolve(this.dir, relative);
    return path.startsWith(this.dir + sep) ? path : undefined;
  }
}
