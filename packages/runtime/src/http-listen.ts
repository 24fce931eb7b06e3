// One way for a daemon to serve HTTP (webhooks, the web API, Jenkins notifications, health): listen,
// learn the port actually bound (port 0 picks a free one), and close promptly even with open
// keep-alive or streaming (SSE) connections. A port that cannot be had is a sentence naming the keys.
// node:http is loaded on the first listen: a daemon without an HTTP port (an idle deploy-agent) does not carry it.
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListeningServer {
  readonly server: Server;
  /** The port bound (the one asked for, or the free one picked for 0). */
  readonly port: number;
  /** http://host:port, with an IPv6 host in brackets. */
  readonly url: string;
  close(): Promise<void>;
}

export interface ListenOptions {
  readonly port: number;
  readonly host: string;
  /** The config keys a person changes to pick another address, named in the error (default http.port / http.host). */
  readonly configKeys?: { readonly port: string; readonly host: string };
}

export class ListenError extends Error {
  override readonly name = 'ListenError';
  readonly code = 'LISTEN_FAILED';
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number, keys: { port: string; host: string }, cause: Error) {
    super(`cannot listen on ${host}:${port} (${cause.message}); change ${keys.port} or ${keys.host}`, { cause });
    this.host = host;
    this.port = port;
  }
}

/** Serves `handler` (an express app or any request listener) on host:port. */
export async function listenHttp(handler: RequestListener, options: ListenOptions): Promise<ListeningServer> {
  const keys = options.configKeys ?? { port: 'http.port', host: 'http.host' };
  const { createServer } = await import('node:http');
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new ListenError(options.host, options.port, keys, error)));
    server.listen(options.port, options.host, () => {
      const port = (server.address() as AddressInfo).port;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({
        server,
        port,
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive and streaming connections never end by themselves.
            server.closeAllConnections();
          }),
      });
    });
  });
}
