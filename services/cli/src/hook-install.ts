// `deploybus hook install`: writes a hook script into a repository that runs this CLI with absolute
// paths. The script is a shell file, so every value in it is validated first and then single-quoted;
// a value holding a quote, a newline or any control character is refused rather than escaped.
import { chmod, lstat, stat, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseBusUrl } from '@deploybus/bus';
import { nameSchema } from '@deploybus/protocol';
import { repoLayout } from '@deploybus/git';
import { CliError, EXIT } from './cli-errors.js';

export type HookType = 'post-receive' | 'post-commit';
export const HOOK_TYPES: readonly HookType[] = ['post-receive', 'post-commit'];

/** The line that marks a hook as ours, so a re-install may replace it. */
export const HOOK_MARKER = '# deploybus-hook:';

export interface HookScriptValues {
  readonly type: HookType;
  readonly nodePath: string;
  readonly cliPath: string;
  readonly repo?: string | undefined;
  readonly busUrl?: string | undefined;
  readonly spoolDir?: string | undefined;
  readonly configFile?: string | undefined;
  /** An earlier hook to run first, with the same input. */
  readonly chained?: string | undefined;
}

/** Single-quotes a value for sh, refusing what could break out of the quotes or the line. */
export function shellQuote(field: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/['\u0000-\u001f\u007f]/.test(value)) throw new CliError('INVALID_INPUT', `${field} ${JSON.stringify(value.slice(0, 120))} holds a quote or a control character; it cannot go into a hook script`, EXIT.usage);
  if (value === '') throw new CliError('INVALID_INPUT', `${field} must not be empty`, EXIT.usage);
  return `'${value}'`;
}

function absolutePath(field: string, value: string): string {
  if (!isAbsolute(value)) throw new CliError('INVALID_INPUT', `${field} ${JSON.stringify(value)} must be an absolute path`, EXIT.usage);
  return shellQuote(field, value);
}

/** Validates every value and renders the script. Throws CliError naming the bad value. */
export function renderHookScript(values: HookScriptValues): string {
  if (!HOOK_TYPES.includes(values.type)) throw new CliError('INVALID_INPUT', `--type must be one of ${HOOK_TYPES.join(', ')}`, EXIT.usage);
  const args = [absolutePath('node path', values.nodePath), absolutePath('CLI path', values.cliPath), 'hook', values.type];
  if (values.repo !== undefined) {
    const check = nameSchema.safeParse(values.repo);
    if (!check.success) throw new CliError('INVALID_INPUT', `--repo ${JSON.stringify(values.repo.slice(0, 80))} ${check.error.issues[0]?.message ?? 'is invalid'}`, EXIT.usage);
    args.push('--repo', shellQuote('--repo', values.repo));
  }
  if (values.spoolDir !== undefined) args.push('--spool', absolutePath('--spool', values.spoolDir));
  if (values.configFile !== undefined) args.push('--config', absolutePath('--config', values.configFile));
  const lines = [
    '#!/bin/sh',
    `${HOOK_MARKER} ${values.type} (written by \`deploybus hook install\`; run it again to change this file)`,
    '# Publishes one commit.pushed event per updated ref; it never fails or blocks a push for long.',
  ];
  if (values.busUrl !== undefined) {
    try {
      parseBusUrl(values.busUrl);
    } catch (error) {
      throw new CliError('INVALID_INPUT', `--bus-url: ${error instanceof Error ? error.message : String(error)}`, EXIT.usage, { cause: error });
    }
    lines.push(`DEPLOYBUS_BUS_URL=${shellQuote('--bus-url', values.busUrl)}`, 'export DEPLOYBUS_BUS_URL');
  }
  const command = args.join(' ');
  if (values.chained === undefined) {
    lines.push(`exec ${command}`);
  } else {
    const chained = absolutePath('chained hook', values.chained);
    if (values.type === 'post-receive') {
      // Both hooks read the same stdin: keep it once, hand it to each.
      lines.push('input=$(cat)', `printf '%s\\n' "$input" | ${chained} "$@"`, 'status=$?', `printf '%s\\n' "$input" | ${command}`, 'exit $status');
    } else {
      lines.push(`${chained} "$@"`, 'status=$?', command, 'exit $status');
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface InstallOptions extends Omit<HookScriptValues, 'chained'> {
  readonly repoPath: string;
  /** Replace a hook deploybus did not write (it is kept as `<type>.deploybus-replaced`). */
  readonly force?: boolean;
  /** Keep a hook deploybus did not write and run it first (moved to `<type>.deploybus-chained`). */
  readonly chain?: boolean;
}

export interface InstallResult {
  readonly path: string;
  readonly hooksDir: string;
  readonly replaced: string | undefined;
  readonly chained: string | undefined;
  readonly mode: number;
}

export async function installHook(options: InstallOptions): Promise<InstallResult> {
  const info = await stat(options.repoPath).catch(() => undefined);
  if (!info?.isDirectory()) throw new CliError('NOT_A_REPOSITORY', `${options.repoPath} does not exist or is not a directory`, EXIT.failed);
  let hooksDir: string;
  try {
    hooksDir = (await repoLayout(options.repoPath)).hooksDir;
  } catch (error) {
    throw new CliError('NOT_A_REPOSITORY', `${options.repoPath} is not a git repository (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`, EXIT.failed, { cause: error });
  }
  const path = join(hooksDir, options.type);
  const chainedPath = `${path}.deploybus-chained`;
  const replacedPath = `${path}.deploybus-replaced`;
  const existing = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
  const foreign = existing !== undefined && !existing.includes(HOOK_MARKER);
  // A re-install over our own hook keeps its chain.
  const alreadyChained = existing !== undefined && !foreign && (await exists(chainedPath));
  let chained: string | undefined = alreadyChained ? chainedPath : undefined;
  if (foreign) {
    if (options.chain === true) {
      if (await exists(chainedPath)) throw new CliError('HOOK_EXISTS', `${chainedPath} already exists; move it away before chaining another hook`, EXIT.failed);
      chained = chainedPath;
    } else if (options.force !== true) {
      throw new CliError('HOOK_EXISTS', `${path} already holds a hook deploybus did not write; use --chain to run it before deploybus, or --force to replace it (kept as ${replacedPath})`, EXIT.failed);
    }
  }
  const script = renderHookScript({ ...options, chained });
  // A bus URL with a password in it makes the script a secret: owner only.
  const mode = options.busUrl !== undefined && /\/\/[^/@]*:[^/@]*@/.test(options.busUrl) ? 0o700 : 0o755;
  try {
    await mkdir(hooksDir, { recursive: true });
    if (foreign) await rename(path, chained ?? replacedPath);
    const tmp = join(hooksDir, `.${options.type}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, script, { mode });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (error) {
    throw new CliError('WRITE_FAILED', `could not write ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, EXIT.failed, { cause: error });
  }
  return { path, hooksDir, replaced: foreign && chained === undefined ? replacedPath : undefined, chained, mode };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
