// /healthz (the process is alive), /readyz (connected to the bus and ready) and /metrics
// (Prometheus) on a port of the daemon's own.
import type { RequestListener } from 'node:http';
import type { Registry } from 'prom-client';
import { listenHttp } from './http-listen.js';

export interface HealthServerOptions {
  readonly port: number;
  readonly host: string;
  readonly registry: Registry;
  /** Undefined when ready, else the reason it is not. */
  readonly notReadyReason: () => string | undefined;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const handler: RequestListener = (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const json = (status: number, body: object): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'use GET' });
    switch (path) {
      case '/healthz':
        return json(200, { status: 'ok' });
      case '/readyz': {
        const reason = options.notReadyReason();
        return reason === undefined ? json(200, { status: 'ready' }) : json(503, { status: 'not ready', reason });
      }
      case '/metrics':
        options.registry.metrics().then(
          (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
          (error: unknown) => json(500, { error: String(error) }),
        );
        return;
      default:
        return json(404, { error: `no such endpoint ${path ?? ''}; try /healthz, /readyz or /metrics` });
    }
  };
  const listening = await listenHttp(handler, { port: options.port, host: options.host, configKeys: { port: 'health.port', host: 'health.host' } });
  return { port: listening.port, close: () => listening.close() };
}
