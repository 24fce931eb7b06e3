// What the deploy/ files are checked against: the daemons, which of them exist in the repo yet, and
// where a daemon's build output lands. Shared by the deploy-*.test.ts files.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { basename, join } from 'node:path';
import type { z } from 'zod';
import { generateSigningKeyPair } from '@deploybus/protocol';
import { loadConfig, type Env } from '../../src/index.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

/** Every daemon deploy/ provides for, in the order the docs list them. */
export const DAEMONS = ['git-watcher', 'jenkins-trigger', 'repo-updater', 'keepalive', 'deploy-agent', 'conductor', 'web', 'notifier'] as const;
export type DaemonName = (typeof DAEMONS)[number];

/** Daemons not written yet: deploy/ carries their units and services already, marked as future. None now. */
export const FUTURE_DAEMONS: readonly DaemonName[] = [];

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

/** Where the example configs expect the signing keys (`deploybus keys generate --out /etc/deploybus/keys`). */
export const EXAMPLE_KEYS_DIR = '/etc/deploybus/keys';

/**
 * A stand-in for /etc/deploybus/keys: a real Ed25519 pair written as `deploybus keys generate` names
 * it (<keyId>.key, <keyId>.pub), and a loader that reads an example config with that directory in
 * place of /etc/deploybus/keys, so `{ file }` secrets and key files resolve as on a real server.
 */
export interface ExampleKeys {
  readonly dir: string;
  load<S extends z.ZodType>(schema: S, file: string, env: Env): Promise<Readonly<z.output<S>>>;
  cleanup(): Promise<void>;
}

export async function exampleKeys(keyIds: readonly string[]): Promise<ExampleKeys> {
  const root = await mkdtemp(join(tmpdir(), 'deploybus-example-keys-'));
  const dir = join(root, 'keys');
  await mkdir(dir, { mode: 0o700 });
  for (const keyId of keyIds) {
    const { privateKey, publicKey } = generateSigningKeyPair();
    await writeFile(join(dir, `${keyId}.key`), privateKey, { mode: 0o600 });
    await writeFile(join(dir, `${keyId}.pub`), publicKey, { mode: 0o644 });
  }
  return {
    dir,
    async load(schema, file, env) {
      const text = (await readFile(file, 'utf8')).replaceAll(`${EXAMPLE_KEYS_DIR}/`, `${dir}/`);
      const copy = join(root, basename(file));
      await writeFile(copy, text);
      return loadConfig(schema, { file: copy, env });
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
