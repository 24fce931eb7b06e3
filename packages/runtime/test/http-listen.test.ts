import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenHttp, ListenError } from '../src/index.js';

describe('listenHttp', () => {
  it('serves on a free port, says where, and closes even with a streaming connection open', async () => {
    const listening = await listenHttp((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    }, { port: 0, host: '127.0.0.1' });
    expect(listening.url).toBe(`http://127.0.0.1:${listening.port}`);
    const response = await fetch(listening.url);
    expect(response.status).toBe(200);
    await listening.close();
    expect(listening.server.listening).toBe(false);
    await expect(fetch(listening.url)).rejects.toThrow();
  });

  it('names the address and the config keys to change when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const attempt = listenHttp(() => undefined, { port, host: '127.0.0.1', configKeys: { port: 'notify.http.port', host: 'notify.http.host' } });
      await expect(attempt).rejects.toBeInstanceOf(ListenError);
      await expect(attempt).rejects.toThrow(`cannot listen on 127.0.0.1:${port} (listen EADDRINUSE: address already in use 127.0.0.1:${port}); change notify.http.port or notify.http.host`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
