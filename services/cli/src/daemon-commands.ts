// `deploybus up` (every daemon in one process: the all-in-one) and `deploybus <daemon>` (one daemon,
// as its own main.js would run it). The definitions come from @deploybus/all-in-one, the composition
// root, so that no service imports another. It is imported only when a daemon is started: loading
// every daemon's code takes about a second, which a git hook or `deploybus status` must not pay. So the
// names are listed here too, and a test holds this list equal to all-in-one's DAEMON_NAMES.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { runDaemon } from '@deploybus/runtime';
import { runAgentProcess } from './agent-process.js';
import { parsePort } from './cli-arguments.js';
import type { CliIo } from './cli-io.js';

/** Each daemon's name and what it does, in the order --help lists them. */
export const DAEMON_COMMANDS: Readonly<Record<string, string>> = {
  conductor: 'turns deploy requests into rollouts; owns locks, the queue and the ledger.',
  'deploy-agent': 'carries out signed deploy, rollback and action commands on this server.',
  keepalive: 'keeps the roster of live daemons from their heartbeats.',
  'git-watcher': 'commit events from hooks, webhooks and polling.',
  'jenkins-trigger': 'starts Jenkins jobs for commits and relays build results.',
  notifier: 'HTTP callbacks, Slack, GitHub and Jenkins notifications of deploy events.',
  'repo-updater': 'keeps this server\'s git mirrors fresh after green builds.',
  web: 'the web UI, the HTTP API and the live event stream.',
};

/**
 * Never settles: a running daemon's own SIGTERM/SIGINT handling ends the process. The timer keeps
 * the process alive even when nothing else would (a daemon on the in-memory bus with no server has
 * only unref'd timers), instead of node ending it with "unsettled top-level await".
 */
const runForever = (): Promise<never> =>
  new Promise<never>(() => {
    setInterval(() => undefined, 1 << 30);
  });

/** `setExitCode`: what the CLI ends with (a daemon run as its own process ends with that process's code). */
export function registerDaemonCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('up')
    .description('start everything in one process (as `npm start` does): every daemon on the in-memory bus, an embedded ledger, a demo repository and a demo fleet. Ctrl-C stops it.')
    .option('--data-dir <dir>', 'where the demo repository, servers, ledger and logs live (default: DEPLOYBUS_DATA_DIR, else ./.deploybus-data)')
    .option('--bus-url <url>', 'run on RabbitMQ (stomp://... or amqp://...) instead of the in-memory bus (default: DEPLOYBUS_BUS_URL)')
    .option('--web-port <port>', 'port of the web UI and API on 127.0.0.1, 0 for any free one (default: DEPLOYBUS_WEB_PORT, else 8600)', parsePort)
    .option('--webhook-port <port>', 'port of git-watcher\'s webhooks, 0 for any free one (default: DEPLOYBUS_WEBHOOK_PORT, else 8650)', parsePort)
    .addHelpText('after', '\nExamples:\n  deploybus up\n  deploybus up --data-dir /tmp/deploybus-demo --web-port 0\n  DEPLOYBUS_BUS_URL=amqp://deploybus:secret@127.0.0.1:5672/deploybus deploybus up')
    .action(async (flags: { dataDir?: string; busUrl?: string; webPort?: number; webhookPort?: number }) => {
      // The all-in-one reads its settings from the environment; flags are the same settings and win.
      const env = {
        ...io.env,
        ...(flags.dataDir === undefined ? {} : { DEPLOYBUS_DATA_DIR: resolve(io.cwd, flags.dataDir) }),
        ...(flags.busUrl === undefined ? {} : { DEPLOYBUS_BUS_URL: flags.busUrl }),
        ...(flags.webPort === undefined ? {} : { DEPLOYBUS_WEB_PORT: String(flags.webPort) }),
        ...(flags.webhookPort === undefined ? {} : { DEPLOYBUS_WEBHOOK_PORT: String(flags.webhookPort) }),
      };
      // Loaded here, not at the top: the other commands start faster without every daemon's code.
      const { runAllInOne } = await import('@deploybus/all-in-one');
      await runAllInOne(env, (line) => io.stdout(`${line}\n`));
      await runForever();
    });

  for (const [name, description] of Object.entries(DAEMON_COMMANDS)) {
    program
      .command(name)
      .description(`run the ${name} daemon: ${description} SIGTERM or Ctrl-C stops it cleanly.`)
      .option('--config <file>', 'its config file, JSON or YAML (default: DEPLOYBUS_CONFIG); DEPLOYBUS_BUS_URL overrides bus.url')
      .addHelpText('after', `\nExamples:\n  deploybus ${name} --config /etc/deploybus/${name}.yaml\n  DEPLOYBUS_CONFIG=/etc/deploybus/${name}.yaml deploybus ${name}`)
      .action(async (flags: { config?: string }) => {
        const configFile = flags.config === undefined ? undefined : resolve(io.cwd, flags.config);
        if (name === 'deploy-agent') {
          setExitCode(await runAgentProcess(configFile, io));
          return;
        }
        const { daemonDefinition, isDaemonName } = await import('@deploybus/all-in-one');
        if (!isDaemonName(name)) throw new Error(`all-in-one has no daemon called ${name}`);
        await runDaemon(daemonDefinition(name), configFile === undefined ? [] : ['--config', configFile], io.env);
        await runForever();
      });
  }
}
