// jenkins-trigger as a daemon: wires config, the Jenkins client, the state file, the notification
// endpoint, the shared work queue for commit.pushed and the poll timers around BuildRelay.
import type { Subscription } from '@deploybus/bus';
import { isMessageOfType, workQueueName } from '@deploybus/protocol';
import type { DaemonDefinition } from '@deploybus/runtime';
import { BuildRelay } from './build-relay.js';
import { BuildTracker } from './build-tracker.js';
import { JenkinsClient } from '@deploybus/jenkins';
import { startNotifyServer, NOTIFY_PATH } from './notify-server.js';
import { StateFile } from './state-file.js';
import { jenkinsTriggerConfigSchema } from './trigger-config.js';

export const SERVICE = 'jenkins-trigger';
/** The shared work queue (`deploybus.jenkins-trigger`): instances share the pushes between them. */
export const WORK_QUEUE = workQueueName(SERVICE);

export const jenkinsTrigger: DaemonDefinition<typeof jenkinsTriggerConfigSchema> = {
  service: SERVICE,
  version: '0.1.0',
  configSchema: jenkinsTriggerConfigSchema,
  async start({ config, logger, bus }) {
    const jenkins = new JenkinsClient({ url: config.jenkins.url, user: config.jenkins.user, token: config.jenkins.token, requestTimeoutMs: config.jenkins.requestTimeoutMs });
    const stateFile = config.stateFile === undefined ? undefined : new StateFile(config.stateFile, logger);
    if (stateFile === undefined) logger.warn({}, 'no stateFile configured: builds in flight are forgotten when the daemon restarts');
    const tracker = new BuildTracker(await stateFile?.load());
    if (tracker.size > 0) logger.info({ builds: tracker.size }, 'following builds in flight from before the restart');
    const relay = new BuildRelay({
      bus,
      jenkins,
      tracker,
      logger,
      jobs: config.jobs,
      retry: config.jenkins.retry,
      maxBuildMs: config.poll.maxBuildMs,
      ...(stateFile ? { save: (state) => stateFile.save(state) } : {}),
    });

    const server = await startNotifyServer({
      host: config.notify.http.host,
      port: config.notify.http.port,
      token: config.notify.token,
      logger,
      onNotification: (notification) => relay.onNotification(notification),
    });
    logger.info({ url: `${server.url}${NOTIFY_PATH}` }, 'listening for Jenkins notifications');

    let subscription: Subscription;
    try {
      subscription = await bus.subscribe({ queue: WORK_QUEUE, patterns: ['commit.pushed.*'] }, async (message) => {
        if (!isMessageOfType(message, 'commit.pushed')) return;
        await relay.onCommitPushed(message);
      });
    } catch (error) {
      await server.close();
      throw error;
    }

    const loop = (what: string, action: () => Promise<void>, intervalMs: number): NodeJS.Timeout => {
      const timer = setInterval(() => {
        action().catch((error: unknown) => logger.error({ err: error instanceof Error ? error.message : String(error) }, `${what} failed; trying again next interval`));
      }, intervalMs);
      timer.unref();
      return timer;
    };
    const timers = [loop('queue poll', () => relay.pollQueue(), config.poll.queueIntervalMs), loop('build poll', () => relay.pollBuilds(), config.poll.intervalMs)];
    relay.resume().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'resuming builds in flight failed; the polls will go on'));

    return {
      async stop() {
        for (const timer of timers) clearInterval(timer);
        await subscription.unsubscribe().catch(() => undefined);
        await server.close();
        await stateFile?.save(tracker.snapshot());
      },
    };
  },
};
