// A real HTTP receiver on 127.0.0.1 for callback tests: records every request (headers, raw body,
// whether its signature verifies), answers 200, 500, or never (hang), and can go down and come back on
// the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyCallback } from '../../src/index.js';

export type ReceiverMode = 'ok' | 'fail' | 'hang';

export interface ReceivedCall {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly json: unknown;
  readonly verified: boolean;
}

export class CallbackReceiver {
  readonly calls: ReceivedCall[] = [];
  mode: ReceiverMode = 'ok';
  /** Requests held open by mode 'hang'. */
  readonly hanging: ServerResponse[] = [];
  secret = '';
  #server: Server | undefined;
  #port = 0;

  get port(): number {
    return this.#port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.#port}${path}`;
  }

  /** Listens (on the same port as before, when it had one). */
  async start(): Promise<void> {
    const server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Goes down: closes the listener and every open connection. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    for (const res of this.hanging.splice(0)) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Event ids of the calls received, in order of arrival. */
  eventIds(): string[] {
    return this.calls.map((c) => String(c.headers['x-deploybus-event-id']));
  }

  eventTypes(): string[] {
    return this.calls.map((c) => String(c.headers['x-deploybus-event-type']));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (this.mode === 'hang') {
        this.hanging.push(res);
        return;
      }
      const header = (name: string): string | undefined => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      let json: unknown;
      try {
        json = JSON.parse(body) as unknown;
      } catch {
        json = undefined;
      }
      if (this.mode === 'fail') {
        res.writeHead(500).end('down for maintenance');
        return;
      }
      this.calls.push({ path: req.url ?? '', method: req.method ?? '', headers: req.headers, body, json, verified: verifyCallback(this.secret, body, header('x-deploybus-timestamp'), header('x-deploybus-signature')) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  }
}
