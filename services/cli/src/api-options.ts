// Where the API is and which token to show it, from flags, then the environment; and the options every
// API command shares, added in one place so their help reads the same everywhere.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Env } from '@deploybus/runtime';
import { DEFAULT_API_URL, DeploybusApi } from './api-client.js';
import { CliError, EXIT } from './cli-errors.js';

export interface ApiFlags {
  readonly api?: string | undefined;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly json?: boolean | undefined;
}

export interface ApiLocation {
  readonly baseUrl: string;
  readonly token: string | undefined;
}

/** Adds --api, --token, --token-file and --json to an API command. */
export function withApiOptions(command: Command): Command {
  return command
    .option('--api <url>', `deploybus API address (default: DEPLOYBUS_API_URL, else ${DEFAULT_API_URL})`)
    .option('--token-file <file>', 'file holding the API token (default: DEPLOYBUS_TOKEN_FILE)')
    .option('--token <token>', 'API token (default: DEPLOYBUS_TOKEN); visible to other users in the process list, so prefer --token-file')
    .option('--json', 'machine output on stdout: one JSON document (streams: one JSON object per line)');
}

/**
 * --api, else DEPLOYBUS_API_URL, else the default; --token, else --token-file, else DEPLOYBUS_TOKEN,
 * else DEPLOYBUS_TOKEN_FILE. Throws CliError naming the flag or variable at fault.
 */
export function resolveApiLocation(flags: ApiFlags, env: Env, cwd: string): ApiLocation {
  const [raw, from] = flags.api !== undefined ? [flags.api, '--api'] : env['DEPLOYBUS_API_URL'] ? [env['DEPLOYBUS_API_URL'], 'DEPLOYBUS_API_URL'] : [DEFAULT_API_URL, 'the default'];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError('INVALID_INPUT', `${from} ${JSON.stringify(raw.slice(0, 200))} is not a URL; give one like ${DEFAULT_API_URL}`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError('INVALID_INPUT', `${from} must be an http:// or https:// URL, not ${url.protocol}`, EXIT.usage);
  if (url.search !== '' || url.hash !== '') throw new CliError('INVALID_INPUT', `${from} must not hold a query or fragment`, EXIT.usage);
  const baseUrl = url.toString().replace(/\/+$/, '');

  let token: string | undefined;
  if (flags.token !== undefined) token = checkToken(flags.token, '--token');
  else if (flags.tokenFile !== undefined) token = readTokenFile(resolve(cwd, flags.tokenFile), '--token-file');
  else if (env['DEPLOYBUS_TOKEN']) token = checkToken(env['DEPLOYBUS_TOKEN'], 'DEPLOYBUS_TOKEN');
  else if (env['DEPLOYBUS_TOKEN_FILE']) token = readTokenFile(resolve(cwd, env['DEPLOYBUS_TOKEN_FILE']), 'DEPLOYBUS_TOKEN_FILE');
  return { baseUrl, token };
}

export function apiClient(flags: ApiFlags, env: Env, cwd: string): DeploybusApi {
  const location = resolveApiLocation(flags, env, cwd);
  return new DeploybusApi({ baseUrl: location.baseUrl, token: location.token });
}

function readTokenFile(path: string, from: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError('TOKEN_FILE_UNREADABLE', `${from}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, EXIT.config, { cause: error });
  }
  return checkToken(text.trim(), `${from} ${path}`);
}

function checkToken(token: string, from: string): string {
  if (token === '') throw new CliError('INVALID_INPUT', `${from} is empty`, EXIT.usage);
  // A header value cannot hold control characters; say so instead of letting fetch throw.
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f\s]/.test(token)) throw new CliError('INVALID_INPUT', `${from} holds whitespace or a control character; a token is one word`, EXIT.usage);
  return token;
}
