// One plain stompjs connection over @stomp/tcp-wrapper, as raw-stomp.ts and the idle-memory child
// use it. Kept apart so that the child loads stompjs and nothing else.
import { createConnection, type Socket } from 'node:net';
import { Client } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';

/** Nagle off on the socket, as the deploybus STOMP transport does; TCPWrapper leaves it on. */
class NoDelayTCPWrapper extends TCPWrapper {
  protected override getSocket(port: number, host: string): Socket {
    const socket = createConnection(port, host);
    socket.setNoDelay(true);
    return socket;
  }
}

const HEARTBEAT_MS = 10_000;

/** Connects a stompjs Client to `url` (stomp://user:pass@host:port/vhost); rejects on refusal or after `timeoutMs`. */
export function connectRawStomp(url: string, timeoutMs: number): Promise<Client> {
  const parsed = new URL(url);
  const host = parsed.hostname || '127.0.0.1';
  const port = Number(parsed.port) || 61613;
  const path = parsed.pathname.replace(/^\//, '');
  const client = new Client({
    webSocketFactory: () => new NoDelayTCPWrapper(host, port),
    connectHeaders: { login: decodeURIComponent(parsed.username) || 'guest', passcode: decodeURIComponent(parsed.password) || 'guest', host: path === '' ? '/' : decodeURIComponent(path) },
    heartbeatIncoming: HEARTBEAT_MS,
    heartbeatOutgoing: HEARTBEAT_MS,
    reconnectDelay: 0,
    connectionTimeout: timeoutMs,
    debug: () => undefined,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`raw stompjs: no CONNECTED from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      void client.deactivate({ force: true });
      reject(error);
    };
    client.onConnect = () => {
      clearTimeout(timer);
      resolve(client);
    };
    client.onStompError = (frame) => fail(new Error(`raw stompjs: the broker refused: ${frame.headers['message'] ?? frame.body}`));
    client.onWebSocketClose = () => fail(new Error(`raw stompjs: the connection to ${host}:${port} closed before CONNECTED`));
    client.activate();
  });
}
