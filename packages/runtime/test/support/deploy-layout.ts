// What the deploy/ files are checked against: the daemons, which of them exist in the repo yet, and
// where a daemon's build output lands. Shared by the deploy-*.test.ts files.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

/** Every daemon deploy/ provides for, in the order the docs list them. */
export const DAEMONS = ['git-watcher', 'jenkins-trigger', 'repo-updater', 'keepalive', 'deploy-agent', 'conductor', 'web'] as const;
export type DaemonName = (typeof DAEMONS)[number];

/** Daemons not written yet: deploy/ carries their units and services already, marked as future. */
export const FUTURE_DAEMONS: readonly DaemonName[] = ['deploy-agent', 'conductor', 'web'];

/** services/ folders that are not daemons run by an operator. */
export const NOT_DAEMONS = ['cli', 'demo'];

/** The daemon's source entry point; its build output is services/<name>/dist/main.js. */
export function daemonMain(name: string): string {
  return join(REPO_ROOT, 'services', name, 'src', 'main.ts');
}

export function daemonExists(name: string): boolean {
  return existsSync(daemonMain(name));
}

/** Where `tsc -b` writes the daemon's main.js, read from its tsconfig (rootDir src -> outDir dist); dist/ for a daemon not written yet. */
export function builtMainOf(name: string): string {
  const file = join(REPO_ROOT, 'services', name, 'tsconfig.json');
  if (!existsSync(file)) return `services/${name}/dist/main.js`;
  const tsconfig = JSON.parse(readFileSync(file, 'utf8')) as { compilerOptions?: { rootDir?: string; outDir?: string } };
  const { rootDir, outDir } = tsconfig.compilerOptions ?? {};
  if (rootDir !== 'src' || outDir === undefined) throw new Error(`services/${name}/tsconfig.json: expected rootDir "src" and an outDir`);
  return `services/${name}/${outDir.replace(/^\.\//, '').replace(/\/$/, '')}/main.js`;
}

/** KEY=VALUE lines, as systemd's EnvironmentFile= and compose's env_file read them. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const pair = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!pair?.[1] || pair[2] === undefined) throw new Error(`${file}:${index + 1}: not a KEY=VALUE line`);
    env[pair[1]] = pair[2];
  }
  return env;
}
