// `npm start`: the whole system in one process. Ctrl-C (or SIGTERM) stops it cleanly.
import { resolve } from 'node:path';
import { busUrlFromEnv, parseBusUrl } from '@deploybus/bus';
import { startAllInOne } from './all-in-one.js';

async function main(): Promise<void> {
  const env = process.env;
  const busUrl = busUrlFromEnv(env);
  const dataDir = resolve(env['DEPLOYBUS_DATA_DIR'] ?? '.deploybus-data');
  const webhookPort = Number(env['DEPLOYBUS_WEBHOOK_PORT'] ?? 8650);
  if (!Number.isInteger(webhookPort) || webhookPort < 0 || webhookPort > 65_535) throw new Error(`DEPLOYBUS_WEBHOOK_PORT="${env['DEPLOYBUS_WEBHOOK_PORT'] ?? ''}" is not a port number`);
  const system = await startAllInOne({ busUrl, dataDir, env, webhookPort, print: (line) => console.log(line) });
  console.log(
    [
      '',
      `deploybus all-in-one is running on ${parseBusUrl(busUrl).redacted}`,
      `  daemons: ${[...system.daemons.keys()].join(', ')}${system.builder === 'stand-in' ? ', and a stand-in builder (set DEPLOYBUS_JENKINS_URL for a real Jenkins)' : ''}`,
      `  demo repository: ${system.repo.origin}, polled by git-watcher; webhooks on http://127.0.0.1:${webhookPort}/webhooks/github`,
      `  demo fleet: ${system.servers.map((s) => `${s.host} (${s.env})`).join(', ')}: releases under ${dataDir}/servers/<host>/apps/${system.app}`,
      `  ledger: ${dataDir}/ledger.db; daemon logs in ${dataDir}/logs`,
      '',
      'Push a commit to the demo repository and watch it travel:',
      `  cd ${system.repo.work} && git commit --allow-empty -m "try deploybus" && git tag v1.3.0 && git push origin main --tags`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`deploybus could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
