// The sign-in page: plain server-rendered HTML, no script, styles inline (so it works even when the
// UI's assets are missing). Errors say what went wrong in a sentence.
import { escapeHtml } from './ui-shell.js';

export interface LoginPageOptions {
  readonly error?: string | undefined;
  readonly username?: string | undefined;
  /** Where to go after signing in (a local path). */
  readonly next?: string | undefined;
  readonly notice?: string | undefined;
}

/** The Content-Security-Policy the page is served with: no scripts at all, styles only inline. */
export const LOGIN_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function renderLoginPage(options: LoginPageOptions = {}): string {
  const error = options.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(options.error)}</p>`;
  const notice = options.notice === undefined ? '' : `<p class="notice" role="status">${escapeHtml(options.notice)}</p>`;
  const next = options.next === undefined ? '' : `<input type="hidden" name="next" value="${escapeHtml(options.next)}">`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · deploybus</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #f4f6f9; --card: #fff; --line: #d5dae3; --accent: #2f5fd0; --bad: #b42318; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #9aa3b5; --bg: #12151b; --card: #1b1f27; --line: #2e3442; --accent: #6d95f2; --bad: #f97066; } }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: var(--bg); color: var(--fg);
         font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  main { width: min(360px, 92vw); background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 28px 28px 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: var(--muted); margin: 0 0 20px; }
  label { display: block; font-weight: 600; margin: 14px 0 6px; }
  input[type=text], input[type=password] { width: 100%; padding: 9px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; background: transparent; color: inherit; }
  input:focus { outline: 2px solid var(--accent); outline-offset: 1px; }
  button { margin-top: 20px; width: 100%; padding: 10px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
  .error { color: var(--bad); border: 1px solid var(--bad); border-radius: 6px; padding: 8px 10px; margin: 0 0 8px; }
  .notice { color: var(--muted); margin: 0 0 8px; }
</style>
</head>
<body>
<main>
  <h1>deploybus</h1>
  <p class="sub">Sign in to deploy.</p>
  ${error}${notice}
  <form method="post" action="/login">
    ${next}
    <label for="username">User name</label>
    <input type="text" id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(options.username ?? '')}">
    <label for="password">Password</label>
    <input type="password" id="password" name="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button>
  </form>
</main>
</body>
</html>
`;
}

/** A `next` parameter is followed only to a path of this site (never `//host` or a full URL). */
export function safeNext(next: unknown): string | undefined {
  if (typeof next !== 'string' || next === '' || next.length > 2048) return undefined;
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\r\n]/.test(next)) return undefined;
  return next;
}
