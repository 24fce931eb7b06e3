// Real repositories in temp dirs for the hook tests, and the built CLI the installed hooks run.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCli } from '../src/index.js';

export const CLI_PATH = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export function requireBuiltCli(): void {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: installed hooks run the built CLI; run \`npm run build\` first`);
}

const AUTHOR = { GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' };

export function git(cwd: string, ...args: string[]): string {
  // Hooks a command triggers (post-commit) get a short bus budget; their stderr is kept out of the test log.
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...AUTHOR, DEPLOYBUS_HOOK_TIMEOUT_MS: '500' }, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

const run = promisify(execFile);

/** A real `git push` (the hook runs as a child of receive-pack), with extra environment. */
export async function gitPush(cwd: string, env: Record<string, string>, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('git', ['push', ...args], { cwd, env: { ...process.env, ...AUTHOR, ...env }, timeout: 60_000 });
}

export function commit(cwd: string, message: string): string {
  git(cwd, 'commit', '--quiet', '--allow-empty', '-m', message);
  return git(cwd, 'rev-parse', 'HEAD');
}

export interface Sandbox {
  readonly dir: string;
  /** A bare repository `shop.git`. */
  readonly bare: string;
  /** A clone of it to push from. */
  readonly work: string;
  remove(): void;
}

export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'deploybus-hook-'));
  const bare = join(dir, 'shop.git');
  const work = join(dir, 'work');
  git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  git(dir, 'init', '--quiet', '--initial-branch=main', work);
  git(work, 'remote', 'add', 'origin', bare);
  return { dir, bare, work, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process, as `deploybus ARGS`. */
export async function cli(args: string[], options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    readStdin: () => Promise.resolve(options.stdin ?? ''),
    nodePath: process.execPath,
    cliPath: CLI_PATH,
  });
  return { code, stdout, stderr };
}
