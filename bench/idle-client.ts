// A child process that holds one connection and sits idle, then prints its resident set size as JSON
// on stdout. bus-bench.ts runs it once per client so the number is not inflated by the bench itself.
//   node bench/dist/idle-client.js <deploybus|raw|bare> <stomp|amqp> <url>
import { setTimeout as sleep } from 'node:timers/promises';

const IDLE_MS = 3_000;

type Closer = () => Promise<void>;

async function open(kind: string, transport: string, url: string): Promise<Closer> {
  if (kind === 'bare') return async () => undefined;
  if (kind === 'deploybus') {
    const { connectBus } = await import('@deploybus/bus');
    const bus = await connectBus(url, { service: 'bench-idle', host: 'bench-idle', connectTimeoutMs: 10_000 });
    return () => bus.close();
  }
  if (kind === 'raw' && transport === 'amqp') {
    const { default: amqp } = await import('amqplib');
    const connection = await amqp.connect(url, { noDelay: true });
    await connection.createConfirmChannel();
    return () => connection.close();
  }
  if (kind === 'raw' && transport === 'stomp') {
    const { connectRawStomp } = await import('./raw-stomp-connection.js');
    const client = await connectRawStomp(url, 10_000);
    return () => client.deactivate();
  }
  throw new Error(`idle-client: unknown client "${kind}" over "${transport}"`);
}

async function main(): Promise<void> {
  const [kind = '', transport = '', url = ''] = process.argv.slice(2);
  const close = await open(kind, transport, url);
  await sleep(IDLE_MS);
  const { rss, heapUsed } = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ rss, heapUsed })}\n`);
  await close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`idle-client: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
