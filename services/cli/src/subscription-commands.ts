// `deploybus subscriptions list | create | show | delete | enable`: HTTP callback subscriptions, kept by
// the notifier and managed through the web API (/api/subscriptions). The notifier checks every field
// (the destination allow-list included) and names the bad one; the API turns that into a 400 (exit 65).
// A secret the CLI makes is printed once: neither the API nor the CLI can show it again.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Subscription } from './api-client.js';
import { apiClient, withApiOptions, type ApiFlags } from './api-options.js';
import { parseName, parseTypeList } from './cli-arguments.js';
import { CliError, EXIT } from './cli-errors.js';
import { printJson, type CliIo } from './cli-io.js';
import { formatTime, printable, renderTable } from './human-format.js';

/** The same shape the web UI makes: `whsec_` + base64url of 32 random bytes (43 characters). */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The web API's own check of an id, here so a mistyped one ends with 64 before anything is sent. */
export function parseSubscriptionId(value: string): string {
  if (!/^sub-[a-z0-9]{8,64}$/.test(value)) throw new InvalidArgumentError('must be a subscription id ("sub-" and 8 to 64 letters or digits), as `deploybus subscriptions list` shows it');
  return value;
}

function parseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be an absolute URL, like https://hooks.example.com/deploybus');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('must be an http:// or https:// URL');
  return value;
}

/** Whitespace would make the HMAC differ between what one types and what the receiver is given. */
function checkSecret(secret: string, from: string): string {
  if (secret.length < 16 || secret.length > 256) throw new CliError('INVALID_INPUT', `${from}: a secret is 16 to 256 characters (leave it out and one is made)`, EXIT.usage);
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(secret)) throw new CliError('INVALID_INPUT', `${from}: a secret holds no spaces or control characters`, EXIT.usage);
  return secret;
}

interface CreateFlags extends ApiFlags {
  readonly events: string[];
  readonly app?: string;
  readonly env?: string;
  readonly secret?: string;
  readonly secretFile?: string;
  readonly description?: string;
}

export function registerSubscriptionCommands(program: Command, io: CliIo): void {
  const subs = program
    .command('subscriptions')
    .alias('subs')
    .description('HTTP callbacks: URLs that get matching events POSTed to them, signed, in order (kept by the notifier).')
    .addHelpText(
      'after',
      `
Each matching event is one POST with the headers X-Deploybus-Event-Id (deduplicate by it),
X-Deploybus-Timestamp and X-Deploybus-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>.
The URL must be allowed by the notifier's destinations (private and loopback addresses are refused
unless its operator allowed them).

Examples:
  deploybus subscriptions create https://hooks.example.com/deploybus --events 'deploy.*,task.completed' --env production
  deploybus subscriptions list
  deploybus subscriptions show sub-3f9c0a1b2c3d4e5f
  deploybus subscriptions enable sub-3f9c0a1b2c3d4e5f
  deploybus subscriptions delete sub-3f9c0a1b2c3d4e5f

Exit status: 0 ok, 4 no such subscription, 65 the notifier refused a field (it is named),
69 the API, the bus or the notifier cannot be reached.`,
    );

  withApiOptions(subs.command('list').description('every subscription, oldest first: state, URL, event types, where its delivery is.'))
    .addHelpText('after', '\nExamples:\n  deploybus subscriptions list\n  deploybus subscriptions list --json | jq -r \'.[] | select(.state == "failing") | .id\'')
    .action(async (flags: ApiFlags) => {
      const rows = await apiClient(flags, io.env, io.cwd).subscriptions();
      if (flags.json) return printJson(io, rows);
      if (rows.length === 0) return io.stdout('no subscriptions (make one with `deploybus subscriptions create URL --events \'deploy.*\'`)\n');
      io.stdout(
        renderTable(
          ['ID', 'STATE', 'EVENTS', 'APP', 'ENV', 'AT EVENT', 'URL'],
          rows.map((s) => [s.id, s.state, s.events.join(','), s.app ?? '(all)', s.env ?? '(all)', s.cursor === undefined ? '-' : `#${s.cursor}`, s.url]),
        ),
      );
    });

  withApiOptions(
    subs
      .command('create')
      .description('subscribe a URL to events; without --secret a signing secret is made and printed this once.')
      .argument('<url>', 'where events are POSTed (http:// or https://, allowed by the notifier\'s destinations)', parseUrl)
      .requiredOption('--events <types>', 'event types, exact or a prefix like \'deploy.*\', or \'*\' (comma-separated; repeatable)', parseTypeList)
      .option('--app <app>', 'only events of this application', parseName)
      .option('-e, --env <env>', 'only events of this environment', parseName)
      .option('--secret <secret>', 'your own signing secret (16 to 256 characters); visible in the process list, so prefer --secret-file')
      .option('--secret-file <file>', 'file holding your own signing secret')
      .option('--description <text>', 'for people: what the receiver is'),
  )
    .addHelpText(
      'after',
      `
Examples:
  deploybus subscriptions create https://hooks.example.com/deploybus --events 'deploy.*,task.completed'
  deploybus subscriptions create https://ci.example.com/hook --events deploy.succeeded --app shop --env staging --description "integration tests"
  deploybus subscriptions create https://hooks.example.com/x --events '*' --secret-file ./callback-secret
  deploybus subscriptions create https://hooks.example.com/x --events 'deploy.*' --json | jq -r .secret > callback-secret`,
    )
    .action(async (url: string, flags: CreateFlags) => {
      if (flags.secret !== undefined && flags.secretFile !== undefined) throw new CliError('INVALID_INPUT', 'give --secret or --secret-file, not both', EXIT.usage);
      if (flags.description !== undefined && flags.description.length > 512) throw new CliError('INVALID_INPUT', '--description: at most 512 characters', EXIT.usage);
      const own = flags.secret !== undefined ? checkSecret(flags.secret, '--secret') : flags.secretFile !== undefined ? checkSecret(readSecretFile(resolve(io.cwd, flags.secretFile)), `--secret-file ${flags.secretFile}`) : undefined;
      // Made here, as the UI makes it in the browser, so the secret is never chosen by a server and
      // travels once, in this request (the notifier would make one too, of another shape).
      const secret = own ?? generateSecret();
      const events = [...new Set(flags.events)];
      const created = await apiClient(flags, io.env, io.cwd).createSubscription({ url, events, app: flags.app, env: flags.env, secret, description: flags.description });
      const shownSecret = own === undefined ? secret : undefined;
      if (flags.json) {
        const { secret: _fromServer, ...subscription } = created;
        return printJson(io, { ...subscription, ...(shownSecret === undefined ? {} : { secret: shownSecret }) });
      }
      io.stdout(`subscribed ${created.id}: ${printable(created.url)} gets ${created.events.join(', ')}${placeOf(created)}\n`);
      if (shownSecret !== undefined) {
        io.stdout(`signing secret: ${shownSecret}\n`);
        io.stdout('keep it where the receiver can check signatures with it: it will not be shown again.\n');
      }
    });

  withApiOptions(subs.command('show').description('one subscription: its filter, state, where its delivery is, the last error.').argument('<id>', 'the subscription (sub-...)', parseSubscriptionId))
    .addHelpText('after', '\nExamples:\n  deploybus subscriptions show sub-3f9c0a1b2c3d4e5f\n  deploybus subscriptions show sub-3f9c0a1b2c3d4e5f --json | jq .lastError')
    .action(async (id: string, flags: ApiFlags) => {
      const s = await apiClient(flags, io.env, io.cwd).subscription(id);
      if (flags.json) return printJson(io, s);
      io.stdout(renderSubscription(s));
    });

  withApiOptions(subs.command('delete').description('delete a subscription: nothing more is sent to it.').argument('<id>', 'the subscription (sub-...)', parseSubscriptionId))
    .addHelpText('after', '\nExamples:\n  deploybus subscriptions delete sub-3f9c0a1b2c3d4e5f')
    .action(async (id: string, flags: ApiFlags) => {
      const result = await apiClient(flags, io.env, io.cwd).deleteSubscription(id);
      if (flags.json) return printJson(io, result);
      io.stdout(`deleted ${result.id}\n`);
    });

  withApiOptions(
    subs
      .command('enable')
      .description('try a failing subscription again now (it is also retried on its own now and then); it catches up in order from where it stopped.')
      .argument('<id>', 'the subscription (sub-...)', parseSubscriptionId),
  )
    .addHelpText('after', '\nExamples:\n  deploybus subscriptions enable sub-3f9c0a1b2c3d4e5f')
    .action(async (id: string, flags: ApiFlags) => {
      const s = await apiClient(flags, io.env, io.cwd).enableSubscription(id);
      if (flags.json) return printJson(io, s);
      io.stdout(`${s.id} is being tried again (state ${s.state}${s.cursor === undefined ? '' : `, done with event #${s.cursor}`})\n`);
    });
}

function readSecretFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new CliError('INVALID_INPUT', `--secret-file: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, EXIT.usage, { cause: error });
  }
}

function placeOf(s: Subscription): string {
  if (s.app === undefined && s.env === undefined) return '';
  return ` of ${s.app ?? 'every app'} in ${s.env ?? 'every environment'}`;
}

export function renderSubscription(s: Subscription): string {
  const rows: Array<[string, string]> = [
    ['id', s.id],
    ['url', s.url],
    ['events', s.events.join(', ')],
    ['app', s.app ?? '(all)'],
    ['env', s.env ?? '(all)'],
    ['state', s.state],
    ['done with', s.cursor === undefined ? '-' : `event #${s.cursor}`],
    ['failures', String(s.failures ?? 0)],
    ['created', `${formatTime(s.createdAt)}${s.createdBy === undefined ? '' : ` by ${s.createdBy}`}`],
  ];
  if (s.description !== undefined) rows.push(['description', s.description]);
  if (s.lastError !== undefined) rows.push(['last error', s.lastError]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${printable(v).replace(/\n/g, ' ')}`).join('\n') + '\n';
}
