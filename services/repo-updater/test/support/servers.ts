// Simulated servers: repo-updater daemons started the way runDaemon starts them (startDaemon with a
// config file and environment), each with its own host name and mirrors directory.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectBus, type Bus } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import { startDaemon, type DaemonHandle } from '@deploybus/runtime';
import { repoUpdater } from '../../src/index.js';

export interface Server {
  readonly host: string;
  readonly mirrorsDir: string;
  readonly handle: DaemonHandle;
  readonly logLines: string[];
}

export async function startServer(options: { root: string; host: string; busUrl: string; config: Record<string, unknown> }): Promise<Server> {
  const mirrorsDir = join(options.root, `mirrors-${options.host}`);
  const configFile = join(options.root, `${options.host}.json`);
  await writeFile(configFile, JSON.stringify({ host: options.host, mirrorsDir, logLevel: 'debug', ...options.config }));
  const logLines: string[] = [];
  const handle = await startDaemon(repoUpdater, {
    configFile,
    env: { DEPLOYBUS_BUS_URL: options.busUrl },
    logDestination: { write: (line: string) => void logLines.push(line) },
  });
  return { host: options.host, mirrorsDir, handle, logLines };
}

/** A bus client that keeps every message matching `patterns`. */
export async function observe(busUrl: string, patterns: string[]): Promise<{ bus: Bus; messages: Message[] }> {
  const bus = await connectBus(busUrl, { service: 'test-observer', host: 'observer' });
  const messages: Message[] = [];
  await bus.subscribe({ patterns }, (message) => void messages.push(message));
  return { bus, messages };
}

export function repoUpdates(messages: readonly Message[]): Array<Extract<Message, { type: 'repo.updated' }>> {
  return messages.filter((m): m is Extract<Message, { type: 'repo.updated' }> => m.type === 'repo.updated');
}
