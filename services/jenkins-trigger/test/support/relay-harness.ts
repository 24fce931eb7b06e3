// A BuildRelay wired to the fake Jenkins and an in-process bus, with an observer that records every
// build.* message, a capture logger and a hand-turned clock.
import { connectBus, type Bus } from '@deploybus/bus';
import { type Message, type MessageType, type PayloadInputOf } from '@deploybus/protocol';
import { CaptureLogger } from '../../../../packages/bus/test/support/capture-logger.js';
import { randomName, waitFor } from '../../../../packages/bus/test/support/wait-for.js';
import { BuildRelay, BuildTracker, JenkinsClient, type JobMapping, type TrackerState } from '../../src/index.js';
import { FakeJenkins, type FakeJenkinsOptions } from './fake-jenkins.js';

export const USER = 'ci-bot';
export const API_TOKEN = 'apitoken-5f1c9a7e3b2d4c6e8a0b1c2d3e4f5a6b';
export const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';

export interface RelayHarnessOptions {
  readonly jobs?: readonly JobMapping[];
  readonly fake?: Partial<FakeJenkinsOptions>;
  readonly attempts?: number;
  readonly maxBuildMs?: number;
  readonly state?: TrackerState | undefined;
  readonly save?: (state: TrackerState) => Promise<void>;
  /** Reuse a running fake Jenkins (a restart test). */
  readonly jenkins?: FakeJenkins;
  readonly busName?: string;
  /** Holds every build.requested publish this long (a slow broker confirm). */
  readonly requestedPublishDelayMs?: number;
}

export interface RelayHarness {
  readonly relay: BuildRelay;
  readonly tracker: BuildTracker;
  readonly jenkins: FakeJenkins;
  readonly bus: Bus;
  readonly logger: CaptureLogger;
  readonly busName: string;
  /** Every build.* message the observer got, in order. */
  readonly seen: Message[];
  readonly sleeps: number[];
  advance(ms: number): void;
  pushed(payload?: Partial<PayloadInputOf<'commit.pushed'>>): Message<'commit.pushed'>;
  /** Waits until `count` messages of `type` were seen; returns them. */
  waitForType<T extends MessageType>(type: T, count?: number): Promise<Array<Message<T>>>;
  /** Waits until everything published so far reached the observer. */
  flush(): Promise<void>;
  types(): string[];
  close(): Promise<void>;
}

export const DEFAULT_JOBS: JobMapping[] = [{ repo: 'shop', refs: ['refs/heads/main', 'refs/tags/v*'], job: 'shop-ci', parameters: { TARGET: 'staging' } }];

export async function relayHarness(options: RelayHarnessOptions = {}): Promise<RelayHarness> {
  const busName = options.busName ?? randomName('jt');
  const logger = new CaptureLogger();
  const bus = await connectBus(`memory://${busName}`, { service: 'jenkins-trigger', host: 'jt-host', logger });
  const observer = await connectBus(`memory://${busName}`, { service: 'observer', host: 'observer-host', logger: new CaptureLogger() });
  const seen: Message[] = [];
  await observer.subscribe({ patterns: ['build.#'] }, (message) => {
    seen.push(message);
  });
  const jenkins = options.jenkins ?? new FakeJenkins({ user: USER, token: API_TOKEN, jobs: ['shop-ci', 'team/shop'], ...options.fake });
  if (!options.jenkins) await jenkins.listen();
  const client = new JenkinsClient({ url: jenkins.url, user: USER, token: { reveal: () => API_TOKEN }, requestTimeoutMs: 5_000 });
  const tracker = new BuildTracker(options.state);
  let clock = 1_700_000_000_000;
  const sleeps: number[] = [];
  const delay = options.requestedPublishDelayMs;
  const relayBus: Pick<Bus, 'message' | 'publish'> =
    delay === undefined
      ? bus
      : {
          message: (type, payload, messageOptions) => bus.message(type, payload, messageOptions),
          publish: async (message, publishOptions) => {
            if (message.type === 'build.requested') await new Promise((resolve) => setTimeout(resolve, delay));
            await bus.publish(message, publishOptions);
          },
        };
  const relay = new BuildRelay({
    bus: relayBus,
    jenkins: client,
    tracker,
    logger,
    jobs: options.jobs ?? DEFAULT_JOBS,
    retry: { attempts: options.attempts ?? 3, initialDelayMs: 10, maxDelayMs: 40 },
    maxBuildMs: options.maxBuildMs ?? 60_000,
    now: () => clock,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...(options.save ? { save: options.save } : {}),
  });
  let sentinel = 0;
  const harness: RelayHarness = {
    relay,
    tracker,
    jenkins,
    bus,
    logger,
    busName,
    seen,
    sleeps,
    advance: (ms) => {
      clock += ms;
    },
    pushed: (payload = {}) =>
      bus.message('commit.pushed', {
        repo: 'shop',
        ref: 'refs/heads/main',
        before: '0000000000000000000000000000000000000000',
        after: SHA,
        commits: [],
        pusher: 'ada',
        origin: 'post-receive',
        ...payload,
      }),
    async waitForType<T extends MessageType>(type: T, count = 1): Promise<Array<Message<T>>> {
      // Message<T> distributes over T, so a generic type guard cannot narrow to it; the filter is the check.
      const ofType = (): Array<Message<T>> => seen.filter((m) => m.type === type) as Array<Message<T>>;
      await waitFor(`${count} ${type} message(s); saw ${JSON.stringify(harness.types())}`, () => ofType().length >= count, 10_000);
      return ofType();
    },
    async flush() {
      sentinel += 1;
      const repo = `sentinel-${sentinel}`;
      await bus.publish(bus.message('build.requested', { repo, ref: 'refs/heads/main', sha: SHA, job: 'sentinel' }));
      await waitFor('the sentinel', () => seen.some((m) => m.type === 'build.requested' && m.payload.repo === repo), 10_000);
      const index = seen.findIndex((m) => m.type === 'build.requested' && m.payload.repo === repo);
      seen.splice(index, 1);
    },
    types: () => seen.map((m) => m.type),
    async close() {
      await bus.close();
      await observer.close();
      if (!options.jenkins) await jenkins.close();
    },
  };
  return harness;
}
