// Runs the whole jenkins-trigger daemon (startDaemon: config file + environment, pino logs captured)
// against the fake Jenkins, on whichever bus URL the test gives.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type DaemonHandle } from '@deploybus/runtime';
import { waitFor } from '../../../../packages/bus/test/support/wait-for.js';
import { jenkinsTrigger, NOTIFY_PATH } from '../../src/index.js';
import type { FakeJenkins } from './fake-jenkins.js';
import { API_TOKEN, USER } from './relay-harness.js';

export const NOTIFY_TOKEN = 'notify-token-0c4b8e2f7a91d35e6b';

export interface DaemonHarness {
  readonly handle: DaemonHandle;
  /** Every log line the daemon wrote, raw JSON text. */
  readonly lines: string[];
  /** http://127.0.0.1:PORT/notify/jenkins */
  readonly notifyUrl: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export interface DaemonHarnessOptions {
  readonly busUrl: string;
  readonly jenkins: FakeJenkins;
  readonly jobs: ReadonlyArray<Record<string, unknown>>;
  readonly dir?: string;
  readonly poll?: Record<string, number>;
  readonly retry?: Record<string, number>;
}

export async function startTrigger(options: DaemonHarnessOptions): Promise<DaemonHarness> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'jenkins-trigger-daemon-')));
  const config = {
    bus: { url: options.busUrl },
    host: 'jt-test',
    logLevel: 'debug',
    heartbeatIntervalMs: 60_000,
    jenkins: {
      url: options.jenkins.url,
      user: USER,
      token: { env: 'JT_TEST_JENKINS_TOKEN' },
      requestTimeoutMs: 5_000,
      retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 100, ...options.retry },
    },
    jobs: options.jobs,
    notify: { http: { port: 0, host: '127.0.0.1' }, token: { file: join(dir, 'notify-token') } },
    poll: { intervalMs: 100, queueIntervalMs: 50, maxBuildMs: 120_000, ...options.poll },
    stateFile: join(dir, 'state', 'jenkins-trigger.json'),
  };
  await writeFile(join(dir, 'notify-token'), `${NOTIFY_TOKEN}\n`);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const lines: string[] = [];
  const handle = await startDaemon(jenkinsTrigger, {
    configFile: join(dir, 'config.json'),
    env: { JT_TEST_JENKINS_TOKEN: API_TOKEN },
    logDestination: { write: (line) => void lines.push(line) },
  });
  let notifyUrl = '';
  await waitFor('the notify endpoint log line', () => {
    for (const line of lines) {
      const parsed = JSON.parse(line) as { msg?: string; url?: string };
      if (parsed.msg === 'listening for Jenkins notifications' && parsed.url) notifyUrl = parsed.url;
    }
    return notifyUrl !== '';
  });
  if (!notifyUrl.endsWith(NOTIFY_PATH)) throw new Error(`unexpected notify URL ${notifyUrl}`);
  return {
    handle,
    lines,
    notifyUrl,
    dir,
    async stop() {
      await handle.stop();
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}
