// The `deploybus` command line: commander wiring only; the work is in hook-run.ts and hook-install.ts.
// Known failures end with one sentence on stderr and a meaningful exit code, never a stack trace.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, type Env } from '@deploybus/runtime';
import { CliError, EXIT } from './cli-errors.js';
import { HOOK_TYPES, installHook, type HookType } from './hook-install.js';
import { runHook } from './hook-run.js';
import { registerKeysCommand } from './keys-command.js';

export interface CliIo {
  readonly env: Env;
  readonly cwd: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => Promise<string>;
  /** Absolute path of node and of this CLI's main.js, written into installed hooks. */
  readonly nodePath: string;
  readonly cliPath: string;
}

export const CLI_VERSION = '0.1.0';

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('deploybus')
    .description('deploybus command line: git hooks that publish commits to the deploybus message bus.')
    .version(CLI_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(add --help for usage)');

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
    runOptions(hook.command(kind).description(description)).action(async (opts: { repo?: string; busUrl?: string; config?: string; spool?: string; timeoutMs?: number }) => {
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
    .action(async (repoPath: string, opts: { type: HookType; repo?: string; busUrl?: string; spool?: string; config?: string; chain?: boolean; force?: boolean }) => {
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
      const extra = result.chained ? `; it runs ${result.chained} first` : result.replaced ? `; the old hook is kept as ${result.replaced}` : '';
      io.stdout(`installed ${opts.type} hook at ${result.path}${extra}\n`);
    });

  registerKeysCommand(program, io);

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
