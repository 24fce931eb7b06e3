// stomp+ssl:// and amqps:// with a CA of the operator's own (deploy/rabbitmq/tls.conf). Turning on
// RabbitMQ's own TLS listeners needs a broker restart, which would disturb the other broker tests,
// so a small TLS-terminating proxy (node:tls, with a server certificate from a throwaway CA made
// here with the openssl CLI) stands in front of the real broker's plain ports. The client side,
// the part deploybus owns, is the same either way: the URL scheme and the `tls` connect option.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from '@deploybus/bus';
import { requireRabbit } from '../../bus/test/support/rabbit-harness.js';
import { CaptureLogger } from '../../bus/test/support/capture-logger.js';
import { randomName, waitFor } from '../../bus/test/support/wait-for.js';
import type { Message } from '@deploybus/protocol';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Pki {
  readonly ca: string;
  readonly otherCa: string;
  readonly key: string;
  readonly cert: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

/** A CA, a server certificate it signed for 127.0.0.1/localhost, and an unrelated second CA. */
async function makePki(dir: string): Promise<Pki> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=deploybus test CA');
  await openssl(dir, 'req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '1', '-subj', '/CN=some other CA');
  await openssl(dir, 'req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext');
  const read = (name: string): Promise<string> => readFile(join(dir, name), 'utf8');
  return { ca: await read('ca.crt'), otherCa: await read('other-ca.crt'), key: await read('server.key'), cert: await read('server.crt') };
}

/** Terminates TLS and forwards the bytes to the broker's plain port. */
async function tlsProxy(pki: Pki, upstreamPort: number): Promise<{ readonly port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket | TLSSocket>();
  const server: Server = createServer({ key: pki.key, cert: pki.cert }, (client) => {
    const upstream = connectTcp(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('tlsClientError', () => undefined); // a client refusing our certificate is part of the test
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let dir: string;
let pki: Pki;
const proxies: Record<'amqp' | 'stomp', { readonly port: number; close(): Promise<void> } | undefined> = { amqp: undefined, stomp: undefined };

beforeAll(async () => {
  await requireRabbit();
  dir = await mkdtemp(join(tmpdir(), 'deploybus-tls-'));
  pki = await makePki(dir);
  proxies.amqp = await tlsProxy(pki, 5672);
  proxies.stomp = await tlsProxy(pki, 61613);
});

afterAll(async () => {
  await proxies.amqp?.close();
  await proxies.stomp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cases = [
  { transport: 'amqp', scheme: 'amqps' },
  { transport: 'stomp', scheme: 'stomp+ssl' },
] as const;

describe.each(cases)('$scheme:// through a TLS endpoint with a private CA', ({ transport, scheme }) => {
  const url = (): string => `${scheme}://guest:guest@127.0.0.1:${proxies[transport]?.port ?? 0}`;

  it('connects when the CA is given in the tls option, and messages flow', async () => {
    const logger = new CaptureLogger();
    const bus = await connectBus(url(), { service: 'tls-test', host: 'ops1', logger, tls: { ca: pki.ca }, connectTimeoutMs: 10_000 });
    try {
      expect(bus.transport).toBe(transport);
      const repo = randomName('tls').replace(/-/g, '_');
      const got: Message[] = [];
      const subscription = await bus.subscribe({ patterns: [`commit.pushed.${repo}`] }, (message) => void got.push(message));
      try {
        const sent = bus.message('commit.pushed', { repo, ref: 'refs/heads/main', before: '0'.repeat(40), after: 'a'.repeat(40), commits: [], pusher: 'ada', origin: 'post-receive' });
        await bus.publish(sent);
        await waitFor('the message back over TLS', () => got.length === 1);
        expect(got[0]?.id).toBe(sent.id);
      } finally {
        await subscription.unsubscribe();
      }
    } finally {
      await bus.close();
    }
  });

  it('refuses a server whose certificate the given CA did not sign, saying why', async () => {
    const logger = new CaptureLogger();
    const attempt = connectBus(url(), { service: 'tls-test', host: 'ops1', logger, tls: { ca: pki.otherCa }, connectTimeoutMs: 2_000, reconnect: { initialMs: 100, maxMs: 300 } });
    const error = await attempt.then(
      async (bus) => {
        await bus.close();
        return undefined;
      },
      (failure: unknown) => failure,
    );
    expect(error, 'the connection must be refused').toBeInstanceOf(Error);
    // The error says what failed, in words a person can act on (e.g. "unable to verify the first certificate").
    expect(String(error)).toMatch(/BusUnavailableError: no connection to .*certificate/i);
  });

  it('a daemon, which passes no tls option, trusts the CA named by NODE_EXTRA_CA_CERTS', async () => {
    // startDaemon gives connectBus no `tls`; Node's own NODE_EXTRA_CA_CERTS is how a daemon learns a private CA.
    const script = [
      "const { connectBus } = await import('@deploybus/bus');",
      `const bus = await connectBus(${JSON.stringify(url())}, { service: 'tls-test', host: 'ops1', connectTimeoutMs: 10000 });`,
      'process.stdout.write(bus.state);',
      'await bus.close();',
    ].join('\n');
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.crt') };
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, env, timeout: 30_000 });
    expect(stdout).toBe('connected');
    const without = await run(process.execPath, ['--input-type=module', '-e', script.replace('10000', '1500')], { cwd: REPO_ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: '' }, timeout: 30_000 }).then(
      () => '',
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    expect(without).toMatch(/certificate/i);
  });
});
