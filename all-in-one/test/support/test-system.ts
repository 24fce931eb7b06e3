// The whole system for a test: startAllInOne on a fresh in-memory bus and a fresh data directory, with
// free ports, quick heartbeats, hooks that do not pause, and what a test overrides (git-watcher's
// polling interval, the hooks' pause). stop() stops every daemon and removes the data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAllInOne, type AllInOne, type AllInOneOptions } from '../../src/index.js';

export interface TestSystem {
  readonly system: AllInOne;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export async function startTestSystem(name: string, overrides: Partial<Pick<AllInOneOptions, 'demoStepDelaySeconds' | 'heartbeatIntervalMs' | 'pollIntervalMs' | 'print'>> = {}): Promise<TestSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), `deploybus-${name}-`));
  try {
    const system = await startAllInOne({
      busUrl: `memory://${name}-${process.pid}-${Date.now()}`,
      dataDir,
      env: {},
      webhookPort: 0,
      webPort: 0,
      heartbeatIntervalMs: 200,
      demoStepDelaySeconds: 0,
      print: () => undefined,
      ...overrides,
    });
    return {
      system,
      dataDir,
      async stop() {
        await system.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
