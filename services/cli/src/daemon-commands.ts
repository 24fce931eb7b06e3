// `deploybus up` (every daemon in one process: the all-in-one) and `deploybus <daemon>` (one daemon,
// as its own main.js would run it). The definitions come from @deploybus/all-in-one, the composition
// root, so that no service imports another. It is imported only when a daemon is started: loading
// every daemon's code takes about a second, which a git hook or `deploybus status` must not pay. So the
// names are listed here too, and a test holds this list equal to all-in-one's DAEMON_NAMES.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { runDaemon } from '@deploybus/runtime';
import type { CliIo } from './cli-io.js';

/** Each daemon's name and what it does, in the order --help lists them. */
export const DAEMON_COMMANDS: Readonly<Record<string, string>> = {
  conductor: 'turns deploy requests into rollouts; owns locks, the queue and the ledger.',
  'deploy-agent': 'carries out signed deploy, rollback and action commands on this server.',
  keepalive: 'keeps the roster of live daemons from their heartbeats.',
  'git-watcher': 'commit events from hooks, webhooks and polling.',
  'jenkins-trigger': 'starts Jenkins jobs for commits and relays build results.',
  'repo-updater': 'keeps this server\'s git mirrors fresh after green builds.',
  web: 'the web UI, the HTTP API and the live event stream.',
};

/** Never settles: a running daemon's own SIGTERM/SIGINT handling ends the process. */
const runForever = (): Promise<never> => new Promise<never>(() => undefined);

export function registerDaemonCommands(program: Command, io: CliIo): void {
  program
    .command('up')
    .description('start everything in one process (as `npm start` does): every daemon on the in-memory bus, an embedded ledger, a demo repository and a demo fleet. Ctrl-C stops it.')
    .option('--data-dir <dir>', 'where the demo repository, servers, ledger and logs live (default: DEPLOYBUS_DATA_DIR, else ./.deploybus-data)')
    .option('--bus-url <url>', 'run on RabbitMQ (stomp://... or amqp://...) instead of the in-memory bus (default: DEPLOYBUS_BUS_URL)')
    .addHelpText('after', '\nExamples:\n  deploybus up\n  deploybus up --data-dir /tmp/deploybus-demo\n  DEPLOYBUS_BUS_URL=amqp://deploybus:secret@127.0.0.1:5672/deploybus deploybus up')
    .action(async (flags: { dataDir?: string; busUrl?: string }) => {
      // The all-in-one's main reads its settings from the environment; flags are the same settings.
      if (flags.dataDir !== undefined) process.env['DEPLOYBUS_DATA_DIR'] = resolve(io.cwd, flags.dataDir);
      if (flags.busUrl !== undefined) process.env['DEPLOYBUS_BUS_URL'] = flags.busUrl;
      // main.js sits next to the package's entry point; importing it runs it, exactly as `npm start` does.
      await import(new URL('./main.js', import.meta.resolve('@deploybus/all-in-one')).href);
      await runForever();
    });

  for (const [name, description] of Object.entries(DAEMON_COMMANDS)) {
    program
      .command(name)
      .description(`run the ${name} daemon: ${description} SIGTERM or Ctrl-C stops it cleanly.`)
      .option('--config <file>', 'its config file, JSON or YAML (default: DEPLOYBUS_CONFIG); DEPLOYBUS_BUS_URL overrides bus.url')
      .addHelpText('after', `\nExamples:\n  deploybus ${name} --config /etc/deploybus/${name}.yaml\n  DEPLOYBUS_CONFIG=/etc/deploybus/${name}.yaml deploybus ${name}`)
      .action(async (flags: { config?: string }) => {
        const { daemonDefinition, isDaemonName } = await import('@deploybus/all-in-one');
        if (!isDaemonName(name)) throw new Error(`all-in-one has no daemon called ${name}`);
        await runDaemon(daemonDefinition(name), flags.config === undefined ? [] : ['--config', resolve(io.cwd, flags.config)], io.env);
        await runForever();
      });
  }
}
