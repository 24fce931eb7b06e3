// A fleet of deploy-agents as separate processes (the built daemon, `node dist/main.js --config`),
// each with its own deploy root, mirrors and state dir in a temp dir, and a real git origin with tags.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync } from 'node:fs';
import { readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const AGENT_MAIN = fileURLToPath(new URL('../../../services/deploy-agent/dist/main.js', import.meta.url));

export function requireBuiltAgent(): void {
  if (!existsSync(AGENT_MAIN)) throw new Error(`${AGENT_MAIN} is missing: the fleet runs the built deploy-agent; run \`npm run build\` first`);
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const result = await execa('git', args, { cwd, env: { LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' } });
  return String(result.stdout).trim();
}

export interface Origin {
  readonly path: string;
  /** Writes `files` (path -> content; null removes), commits, tags `tag`; returns the commit id. */
  release(tag: string, files: Record<string, string | null>): Promise<string>;
}

export async function makeOrigin(path: string): Promise<Origin> {
  await execa('git', ['init', '--quiet', '--initial-branch=main', path]);
  return {
    path,
    async release(tag, files) {
      for (const [name, content] of Object.entries(files)) {
        if (content === null) await git(path, 'rm', '--quiet', '--ignore-unmatch', name);
        else {
          await writeFile(join(path, name), content);
          await git(path, 'add', name);
        }
      }
      await git(path, 'commit', '--quiet', '--allow-empty', '-m', `release ${tag}`);
      await git(path, 'tag', tag);
      return git(path, 'rev-parse', 'HEAD');
    },
  };
}

export interface AgentProcess {
  readonly host: string;
  readonly deployRoot: string;
  readonly logFile: string;
  child: ChildProcess;
  /** Starts the process again with the same config (after a kill). */
  restart(): void;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
  /** The release dir name `current` points at, or undefined. */
  current(): Promise<string | undefined>;
  /** Release dir names under releases/. */
  releases(): string[];
}

export interface AgentSpec {
  readonly host: string;
  readonly busUrl: string;
  readonly dir: string;
  readonly keyId: string;
  readonly publicKey: string;
  readonly app: Record<string, unknown>;
}

export async function startAgent(spec: AgentSpec): Promise<AgentProcess> {
  const root = join(spec.dir, spec.host);
  const deployRoot = join(root, 'deploy', String(spec.app['name']));
  const configFile = join(spec.dir, `${spec.host}.json`);
  const logFile = join(spec.dir, `${spec.host}.log`);
  await writeFile(
    configFile,
    JSON.stringify({
      host: spec.host,
      heartbeatIntervalMs: 500,
      logLevel: 'debug',
      mirrorsDir: join(root, 'mirrors'),
      stateDir: join(root, 'state'),
      trustedKeys: [{ keyId: spec.keyId, publicKey: spec.publicKey }],
      logBatchMs: 50,
      apps: [{ ...spec.app, deployRoot }],
    }),
  );
  const launch = (): ChildProcess => {
    const fd = openSync(logFile, 'a');
    try {
      const child = spawn(process.execPath, [AGENT_MAIN, '--config', configFile], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: root, DEPLOYBUS_BUS_URL: spec.busUrl }, stdio: ['ignore', fd, fd] });
      return child;
    } finally {
      closeSync(fd);
    }
  };
  const exited = (child: ChildProcess): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
  const agent: AgentProcess = {
    host: spec.host,
    deployRoot,
    logFile,
    child: launch(),
    restart() {
      agent.child = launch();
    },
    async kill() {
      const done = exited(agent.child);
      agent.child.kill('SIGKILL');
      await done;
    },
    async stop() {
      const done = exited(agent.child);
      agent.child.kill('SIGTERM');
      const timer = setTimeout(() => agent.child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
    async current() {
      try {
        return (await readlink(join(deployRoot, 'current'))).replace(/^releases\//, '');
      } catch {
        return undefined;
      }
    },
    releases() {
      const dir = join(deployRoot, 'releases');
      return existsSync(dir) ? readdirSync(dir).sort() : [];
    },
  };
  return agent;
}
