// How many sockets the broker allows and has in use, from `rabbitmqctl status` (the tool the broker
// tests use too). The fan-out bench checks it before opening hundreds of connections, so it never
// fills the broker's socket table (which would stall every other client of the broker as well).
import { execFile } from 'node:child_process';

export interface BrokerSockets {
  readonly limit: number;
  readonly used: number;
}

/** Undefined when rabbitmqctl is missing, not allowed to talk to the node, or says something unexpected. */
export function readBrokerSockets(timeoutMs = 10_000): Promise<BrokerSockets | undefined> {
  return new Promise((resolve) => {
    execFile('rabbitmqctl', ['status', '--formatter', 'json'], { timeout: timeoutMs }, (error, stdout) => {
      if (error) {
        resolve(undefined);
        return;
      }
      try {
        const status = JSON.parse(stdout) as { file_descriptors?: { sockets_limit?: unknown; sockets_used?: unknown } };
        const limit = status.file_descriptors?.sockets_limit;
        const used = status.file_descriptors?.sockets_used;
        resolve(typeof limit === 'number' && typeof used === 'number' ? { limit, used } : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}
