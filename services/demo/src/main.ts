// `npm start`: runs the demo fleet on the bus named by DEPLOYBUS_BUS_URL (in-memory by default)
// until SIGINT or SIGTERM.
import { pino } from 'pino';
import { busUrlFromEnv, parseBusUrl } from '@deploybus/bus';
import { startDemo } from './demo-fleet.js';

async function main(): Promise<void> {
  const logger = pino({ name: 'deploybus-demo', level: process.env['LOG_LEVEL'] ?? 'warn' });
  const busUrl = busUrlFromEnv(process.env);
  const where = parseBusUrl(busUrl).redacted;
  console.log(`deploybus demo: daemons talking on ${where}. Every event on the bus is printed below; Ctrl-C stops.`);
  const demo = await startDemo({ busUrl, logger, print: (line) => console.log(line), commitEveryMs: 5_000 });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    demo.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`deploybus demo could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
