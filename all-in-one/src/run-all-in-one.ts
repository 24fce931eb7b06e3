// The all-in-one as `npm start` and `deploybus up` run it: settings from the environment, the
// address and credentials printed, and Ctrl-C (or SIGTERM) stopping everything cleanly.
import { resolve } from 'node:path';
import { busUrlFromEnv, parseBusUrl } from '@deploybus/bus';
import type { Env } from '@deploybus/runtime';
import { startAllInOne } from './all-in-one.js';

const DEFAULT_WEB_PORT = 8600;
const DEFAULT_WEBHOOK_PORT = 8650;

function portFromEnv(env: Env, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) throw new Error(`${name}="${text}" is not a port number (0 to 65535; 0 picks a free port)`);
  return port;
}

/** Starts the whole system from `env` (DEPLOYBUS_BUS_URL, DEPLOYBUS_DATA_DIR, DEPLOYBUS_WEB_PORT, DEPLOYBUS_WEBHOOK_PORT, DEPLOYBUS_JENKINS_*); resolves once it runs. */
export async function runAllInOne(env: Env, print: (line: string) => void = (line) => console.log(line)): Promise<void> {
  // An empty DEPLOYBUS_BUS_URL means the default, as if it were unset.
  const busUrl = busUrlFromEnv(env['DEPLOYBUS_BUS_URL'] === '' ? { ...env, DEPLOYBUS_BUS_URL: undefined } : env);
  const dataDir = resolve(env['DEPLOYBUS_DATA_DIR'] ?? '.deploybus-data');
  const webhookPort = portFromEnv(env, 'DEPLOYBUS_WEBHOOK_PORT', DEFAULT_WEBHOOK_PORT);
  const webPort = portFromEnv(env, 'DEPLOYBUS_WEB_PORT', DEFAULT_WEB_PORT);
  const system = await startAllInOne({ busUrl, dataDir, env, webhookPort, webPort, print });
  const { credentials, webUrl } = system;
  print(
    [
      '',
      `deploybus all-in-one is running on ${parseBusUrl(busUrl).redacted}`,
      '',
      `  web UI and API: ${webUrl}/   sign in as ${credentials.user} with password ${credentials.password}`,
      `  API token: ${credentials.token}`,
      `    e.g. DEPLOYBUS_API_URL=${webUrl} DEPLOYBUS_TOKEN=${credentials.token} npx deploybus deploy ${system.app} v1.2.0 --env production`,
      `    (credentials are kept in ${dataDir}/secrets; delete that folder for new ones)`,
      '',
      `  daemons: ${[...system.daemons.keys()].join(', ')}${system.builder === 'stand-in' ? ', and a stand-in builder (set DEPLOYBUS_JENKINS_URL for a real Jenkins)' : ''}`,
      `  demo fleet: ${system.servers.map((s) => `${s.host} (${s.env})`).join(', ')}: releases under ${dataDir}/servers/<host>/apps/${system.app}`,
      `  demo repository: ${system.repo.origin}, polled by git-watcher${webhookPort === 0 ? '' : `; webhooks on http://127.0.0.1:${webhookPort}/webhooks/github`}`,
      `  ledger: ${dataDir}/ledger.db; daemon logs in ${dataDir}/logs`,
      '',
      'Release a new version of the demo app, then deploy it from the UI:',
      `  cd ${system.repo.work} && echo 1.3.0 > VERSION && git commit -qam "Release 1.3.0" && git tag v1.3.0 && git push -q origin main --tags`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    print(`\n${signal}: stopping`);
    system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

