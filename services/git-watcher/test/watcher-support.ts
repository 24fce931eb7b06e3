// Shared pieces of the git-watcher tests: the real GitHub example payloads, a started watcher on a
// bus with a temp state file, a log that keeps its lines, and signed requests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '@deploybus/bus';
import { createLogger, loadConfig, type Logger } from '@deploybus/runtime';
import { githubSignature, gitWatcherConfigSchema, startGitWatcher, type GitWatcher, type GitWatcherDeps } from '../src/index.js';

interface ExampleSet {
  readonly name: string;
  readonly examples: readonly Record<string, unknown>[];
}

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples') as readonly ExampleSet[];

export function githubExamples(event: 'push' | 'ping'): Record<string, unknown>[] {
  const set = examples.find((e) => e.name === event);
  if (!set || set.examples.length === 0) throw new Error(`@octokit/webhooks-examples has no ${event} examples`);
  return set.examples.map((e) => structuredClone(e));
}

export const TEST_SECRET = 'test-webhook-secret-not-for-production';
export const TEST_GITLAB_TOKEN = 'gitlab-test-token';
export const TEST_DOCKERHUB_TOKEN = 'dockerhub-test-token';

export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'git-watcher', host: 'test', level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { logger, lines };
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `deploybus-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A config as the daemon would load it, with secrets from a test environment. */
export function testConfig(extra: Record<string, unknown>, dataDir: string) {
  const file = join(dataDir, 'config.json');
  // Through a real file and loadConfig, so secrets resolve the way the daemon resolves them.
  writeFileSync(file, JSON.stringify({ http: { port: 0 }, dataDir, github: { secret: { env: 'GW_SECRET' } }, gitlab: { token: { env: 'GW_GITLAB' } }, dockerhub: { token: { env: 'GW_DOCKERHUB' }, callbackHosts: [] }, ...extra }));
  return loadConfig(gitWatcherConfigSchema, { file, env: { GW_SECRET: TEST_SECRET, GW_GITLAB: TEST_GITLAB_TOKEN, GW_DOCKERHUB: TEST_DOCKERHUB_TOKEN } });
}

export async function startWatcher(bus: Bus, dataDir: string, extra: Record<string, unknown> = {}, more: Partial<GitWatcherDeps> = {}): Promise<{ watcher: GitWatcher; lines: Array<Record<string, unknown>> }> {
  const { logger, lines } = captureLogger();
  const watcher = await startGitWatcher({ config: testConfig(extra, dataDir), bus, logger, ...more });
  return { watcher, lines };
}

export interface PostOptions {
  readonly headers?: Record<string, string>;
  readonly secret?: string | undefined;
  readonly event?: string;
  readonly delivery?: string;
}

/** POSTs a GitHub delivery, signed with `secret` (TEST_SECRET by default; undefined: unsigned). */
export async function postGithub(watcher: GitWatcher, body: string, options: PostOptions = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const secret = 'secret' in options ? options.secret : TEST_SECRET;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-github-event': options.event ?? 'push',
    'x-github-delivery': options.delivery ?? crypto.randomUUID(),
    ...(secret === undefined ? {} : { 'x-hub-signature-256': githubSignature(secret, body) }),
    ...options.headers,
  };
  return post(`${watcher.url}/webhooks/github`, body, headers);
}

export async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', body, headers });
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: response.status, json };
}
