// A web test world: the conductor world (real conductor daemon on the in-memory bus, a fake keepalive
// answering roster.query, fake agents; see services/conductor/test/support/conductor-world.ts) plus
// the real web daemon on 127.0.0.1 port 0, and a small HTTP client that speaks its auth.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, type DaemonHandle } from '@deploybus/runtime';
import { createWebDaemon } from '../../src/index.js';
import { cleanups, world, type World, type WorldOptions } from '../../../conductor/test/support/conductor-world.js';

export const PASSWORD = 'correct horse battery staple';
export const TOKEN = 'tok_0123456789abcdef0123456789abcdef';
export const SESSION_SECRET = 'a-test-session-secret-of-enough-length-000';

export interface WebWorld extends World {
  readonly url: string;
  readonly busUrl: string;
  readonly web: DaemonHandle;
  readonly uiDir: string;
  /** A JSON request with the CI token (unless `auth` says otherwise). */
  api(path: string, init?: ApiInit): Promise<ApiResponse>;
  /** Signs in as ada through the form and returns the cookie header and CSRF token. */
  signIn(): Promise<{ cookie: string; csrfToken: string }>;
}

export interface ApiInit {
  readonly method?: string;
  readonly body?: unknown;
  /** 'token' (default), 'none', or a session (cookie + optional CSRF token), or a raw Authorization header. */
  readonly auth?: 'token' | 'none' | { readonly cookie: string; readonly csrfToken?: string } | { readonly authorization: string };
  readonly headers?: Record<string, string>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of many shapes; tests assert on it
  readonly text: string;
}

export interface WebWorldOptions extends WorldOptions {
  readonly webConfig?: Record<string, unknown>;
  readonly conductorConfig?: Record<string, unknown>;
  /** Write this index.html into the test's own UI folder (absent: the folder has no index.html). */
  readonly indexHtml?: string;
}

export async function webWorld(options: WebWorldOptions = {}): Promise<WebWorld> {
  const w = await world({ hosts: ['web1', 'web2'], ...options });
  await w.start(options.conductorConfig);
  const uiDir = join(w.dir, 'ui');
  await mkdir(uiDir, { recursive: true });
  if (options.indexHtml !== undefined) await writeFile(join(uiDir, 'index.html'), options.indexHtml);
  const file = join(w.dir, 'web.json');
  await writeFile(
    file,
    JSON.stringify({
      logLevel: 'silent',
      host: 'webhost',
      bus: { url: w.url },
      http: { host: '127.0.0.1', port: 0 },
      users: [{ name: 'ada', password: { env: 'WEB_TEST_ADA_PASSWORD' } }],
      tokens: [{ name: 'ci-bot', token: { env: 'WEB_TEST_TOKEN' } }],
      sessionSecret: { env: 'WEB_TEST_SESSION_SECRET' },
      roster: { keepaliveHosts: ['ka1'] },
      requestTimeoutMs: 5_000,
      uiDir,
      ...options.webConfig,
    }),
  );
  let url = '';
  const web = await startDaemon(
    createWebDaemon({ onListening: (u) => (url = u) }),
    { configFile: file, env: { WEB_TEST_ADA_PASSWORD: PASSWORD, WEB_TEST_TOKEN: TOKEN, WEB_TEST_SESSION_SECRET: SESSION_SECRET } },
  );
  cleanups.push(() => web.stop());

  const api = async (path: string, init: ApiInit = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    const auth = init.auth ?? 'token';
    if (auth === 'token') headers['authorization'] = `Bearer ${TOKEN}`;
    else if (auth !== 'none' && 'authorization' in auth) headers['authorization'] = auth.authorization;
    else if (auth !== 'none' && 'cookie' in auth) {
      headers['cookie'] = auth.cookie;
      if (auth.csrfToken !== undefined) headers['x-csrf-token'] = auth.csrfToken;
    }
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${url}${path}`, { method: init.method ?? 'GET', headers, redirect: 'manual', ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };

  const signIn = async (): Promise<{ cookie: string; csrfToken: string }> => {
    const response = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
      body: new URLSearchParams({ username: 'ada', password: PASSWORD }).toString(),
      redirect: 'manual',
    });
    if (response.status !== 303) throw new Error(`sign-in answered ${response.status}: ${await response.text()}`);
    const setCookie = response.headers.get('set-cookie') ?? '';
    const cookie = setCookie.split(';')[0] ?? '';
    const session = await api('/api/session', { auth: { cookie } });
    return { cookie, csrfToken: session.body.csrfToken };
  };

  return Object.assign(w, { url, busUrl: w.url, web, uiDir, api, signIn }) as WebWorld;
}

/** Commits and tags each of `tags` on main, in a new repository (or, with `existing`, on top of the one in `dir`); returns each tag's commit. */
export async function gitRepoWithTags(dir: string, tags: readonly string[], options: { existing?: boolean } = {}): Promise<Map<string, string>> {
  await mkdir(dir, { recursive: true });
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' } }).trim();
  if (options.existing !== true) git('init', '-q', '-b', 'main');
  const shas = new Map<string, string>();
  for (const tag of tags) {
    await writeFile(join(dir, 'VERSION'), `${tag}\n`);
    git('add', 'VERSION');
    git('commit', '-q', '-m', `release ${tag}`);
    git('tag', tag);
    shas.set(tag, git('rev-parse', 'HEAD'));
  }
  return shas;
}
