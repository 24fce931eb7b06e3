// A stand-in for a Slack incoming webhook, following Slack's documented request format: POST JSON with a
// non-empty `text` (blocks optional) to the webhook's path; 200 "ok", or 400 "invalid_payload", 404
// "no_service" for an unknown path. `failNext` answers 500 that many times first (Slack's own outages).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const SLACK_PATH = '/services/T0000TEST/B0000TEST/abcdefghijklmnopqrstuvwx';

export class FakeSlack {
  readonly messages: Array<{ text: string; blocks: unknown }> = [];
  /** Every request, including refused ones. */
  requests = 0;
  failNext = 0;
  #server: Server | undefined;

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests += 1;
        if (req.method !== 'POST' || req.url !== SLACK_PATH) return void res.writeHead(404).end('no_service');
        if (this.failNext > 0) {
          this.failNext -= 1;
          return void res.writeHead(500).end('rollup_error');
        }
        let body: { text?: unknown; blocks?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
        } catch {
          return void res.writeHead(400).end('invalid_payload');
        }
        if (!String(req.headers['content-type']).startsWith('application/json') || typeof body.text !== 'string' || body.text === '') return void res.writeHead(400).end('invalid_payload');
        if (body.blocks !== undefined && !Array.isArray(body.blocks)) return void res.writeHead(400).end('invalid_blocks');
        this.messages.push({ text: body.text, blocks: body.blocks });
        res.writeHead(200, { 'content-type': 'text/html' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}${SLACK_PATH}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
