// The `deploybus` command line: commander wiring only; each command family registers itself from its
// own module (hooks here, deploys, state, streams, keys, daemons).
// Known failures end with one sentence on stderr and a meaningful exit code, never a stack trace.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '@deploybus/runtime';
import { printJson, type CliIo } from './cli-io.js';
import { CliError, EXIT } from './cli-errors.js';
import { HOOK_TYPES, installHook, type HookType } from './hook-install.js';
import { runHook } from './hook-run.js';
export type { CliIo } from './cli-io.js';
import { registerKeysCommand } from './keys-command.js';
import { registerDaemonCommands } from './daemon-commands.js';
import { registerDeployCommands } from './deploy-command.js';
import { registerStateCommands } from './state-commands.js';
import { registerStreamCommands } from './stream-commands.js';
import { registerSubscriptionCommands } from './subscription-commands.js';

const PROGRAM_HELP = `
The API commands (deploy, rollback, cancel, status, history, logs, lock, unlock, tail, roster,
subscriptions) talk to the deploybus web daemon: --api URL or DEPLOYBUS_API_URL (default
http://127.0.0.1:8600), with a token from --token-file FILE, DEPLOYBUS_TOKEN_FILE, DEPLOYBUS_TOKEN or
--token. Each takes --json for scripts.

Examples:
  deploybus up                                         everything in one process, with a demo fleet
  deploybus deploy shop v1.4.1 --env production        deploy and follow it live
  deploybus status shop --env production               queue, locks and which release runs where
  deploybus tail --type 'deploy.*'                     live deploy events
  deploybus subs create URL --events 'deploy.*'        POST each deploy event to URL, signed
  deploybus <command> --help                           more on one command

Exit status: 0 ok, 1 failed, 2 refused, 3 cancelled, 4 not found, 5 outcome unknown, 64 bad usage,
65 the API named a bad field, 69 the API cannot be reached, 70 the API failed, 77 no or wrong token,
78 bad config, 130 interrupted.`;

export const CLI_VERSION = '0.1.0';

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('deploybus')
    .description('deploybus command line: deploy and watch deploys through the deploybus API, run the daemons, install git hooks, make signing keys.')
    .version(CLI_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', PROGRAM_HELP);

  const hook = program.command('hook').description('git hooks: publish commit.pushed events, or install a hook into a repository.');

  const runOptions = (command: Command): Command =>
    command
      .option('--repo <name>', 'repository name in events (default: config hook.repo, else the directory name without .git)')
      .option('--bus-url <url>', 'bus to publish to (default: DEPLOYBUS_BUS_URL, else the --config file\'s bus.url)')
      .option('--config <file>', 'config file (JSON or YAML) with bus.url and hook.{repo,spoolDir} (default: DEPLOYBUS_CONFIG)')
      .option('--spool <dir>', 'where events wait when the bus is unreachable (default: DEPLOYBUS_SPOOL_DIR, else <git dir>/deploybus-spool)')
      .option('--timeout-ms <ms>', 'time the bus gets, connect included, before events are spooled (default: DEPLOYBUS_HOOK_TIMEOUT_MS, else 3000)', parseTimeout);

  for (const kind of ['post-receive', 'post-commit'] as const) {
    const description =
      kind === 'post-receive'
        ? 'run as git\'s post-receive hook: reads "<old> <new> <ref>" lines on stdin and publishes one commit.pushed per ref. Always exits 0: a push never fails because of it.'
        : 'run as git\'s post-commit hook: publishes a commit.pushed for the new HEAD. Always exits 0.';
    const example =
      kind === 'post-receive'
        ? 'printf "%s %s refs/heads/main\\n" "$old" "$new" | DEPLOYBUS_BUS_URL=stomp://127.0.0.1:61613 deploybus hook post-receive --repo shop'
        : 'DEPLOYBUS_BUS_URL=stomp://127.0.0.1:61613 deploybus hook post-commit';
    runOptions(hook.command(kind).description(description))
      .addHelpText('after', `\nUsually run by the hook that \`deploybus hook install\` writes. By hand:\n  ${example}`)
      .action(async (opts: { repo?: string; busUrl?: string; config?: string; spool?: string; timeoutMs?: number }) => {
      try {
        await runHook({
          kind,
          cwd: io.cwd,
          env: io.env,
          input: kind === 'post-receive' ? await io.readStdin() : '',
          repo: opts.repo,
          busUrl: opts.busUrl,
          configFile: opts.config,
          spoolDir: opts.spool,
          budgetMs: opts.timeoutMs ?? parseTimeoutOr(io.env['DEPLOYBUS_HOOK_TIMEOUT_MS'], 3_000),
          report: (line) => io.stderr(`${line}\n`),
        });
      } catch (error) {
        io.stderr(`deploybus: hook failed unexpectedly (${error instanceof Error ? error.message : String(error)}); the push itself is not affected\n`);
      }
      exitCode = EXIT.ok;
    });
  }

  hook
    .command('install')
    .description('write a hook into a repository (bare or working) that runs `deploybus hook <type>` with absolute paths; respects core.hooksPath.')
    .argument('<repo-path>', 'path of the repository')
    .addOption(new Option('--type <type>', 'which hook').choices(HOOK_TYPES).default('post-receive'))
    .option('--repo <name>', 'repository name the hook puts in events')
    .option('--bus-url <url>', 'bus URL written into the hook (a URL with a password makes the hook owner-only, mode 0700)')
    .option('--spool <dir>', 'absolute spool directory for the hook')
    .option('--config <file>', 'absolute path of a config file the hook reads')
    .option('--chain', 'keep an existing foreign hook and run it first (moved to <type>.deploybus-chained)')
    .option('--force', 'replace an existing foreign hook (kept as <type>.deploybus-replaced)')
    .option('--json', 'print what was written as one JSON document')
    .addHelpText(
      'after',
      '\nExamples:\n  deploybus hook install /srv/git/shop.git --bus-url stomp://127.0.0.1:61613\n  deploybus hook install ~/src/shop --type post-commit --repo shop --chain',
    )
    .action(async (repoPath: string, opts: { type: HookType; repo?: string; busUrl?: string; spool?: string; config?: string; chain?: boolean; force?: boolean; json?: boolean }) => {
      const result = await installHook({
        repoPath,
        type: opts.type,
        nodePath: io.nodePath,
        cliPath: io.cliPath,
        repo: opts.repo,
        busUrl: opts.busUrl,
        spoolDir: opts.spool,
        configFile: opts.config,
        chain: opts.chain === true,
        force: opts.force === true,
      });
      if (opts.json) return printJson(io, { type: opts.type, path: result.path, hooksDir: result.hooksDir, replaced: result.replaced ?? null, chained: result.chained ?? null, mode: `0${result.mode.toString(8)}` });
      const extra = result.chained ? `; it runs ${result.chained} first` : result.replaced ? `; the old hook is kept as ${result.replaced}` : '';
      io.stdout(`installed ${opts.type} hook at ${result.path}${extra}\n`);
    });

  registerDeployCommands(program, io);
  registerStateCommands(program, io);
  registerStreamCommands(program, io);
  registerSubscriptionCommands(program, io);
  registerKeysCommand(program, io);
  registerDaemonCommands(program, io, (code) => (exitCode = code));

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      io.stderr(`deploybus: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      io.stderr(`deploybus: ${error.message}\n`);
      return EXIT.config;
    }
    io.stderr(`deploybus: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
}

/** This CLI's own main.js, resolved through symlinks (npm's bin links), for hooks to run. */
export function defaultCliPath(): string {
  return realpathSync(fileURLToPath(new URL('./main.js', import.meta.url)));
}

function parseTimeout(value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 100 || ms > 600_000) throw new InvalidArgumentError('must be a whole number of milliseconds from 100 to 600000');
  return ms;
}

function parseTimeoutOr(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = Number(value);
  return Number.isInteger(ms) && ms >= 100 && ms <= 600_000 ? ms : fallback;
}
