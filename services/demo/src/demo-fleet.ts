// A small live demo of daemons talking on the bus: a commit source, a builder, three agents (one of
// which never answers) and a coordinator that asks the agents for their state after each green
// build. The real daemons replace these one by one; the wiring stays the same.
import { commandQueueName, type Message } from '@deploybus/protocol';
import { connectBus, type Bus, type BusLogger } from '@deploybus/bus';

export interface DemoOptions {
  readonly busUrl: string;
  readonly logger: BusLogger;
  /** Where each event is reported, one line per event. */
  readonly print: (line: string) => void;
  readonly commitEveryMs: number;
}

export interface RunningDemo {
  readonly buses: readonly Bus[];
  stop(): Promise<void>;
}

const AGENTS = ['web1', 'web2', 'web3'] as const;
const SILENT_AGENT = 'web3';

export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const connect = (service: string, host: string): Promise<Bus> => connectBus(options.busUrl, { service, host, logger: options.logger });
  const [watcher, builder, conductor, tail] = await Promise.all([
    connect('git-watcher', 'git1'),
    connect('jenkins-trigger', 'ci1'),
    connect('conductor', 'ops1'),
    connect('tail', 'ops1'),
  ]);
  const agents = await Promise.all(AGENTS.map((host) => connect('deploy-agent', host)));
  const buses = [watcher, builder, conductor, tail, ...agents];

  await tail.subscribe({ patterns: ['#'] }, (m) => options.print(describe(m)));

  // The builder: every pushed commit gets a build that passes.
  let buildNumber = 0;
  await builder.subscribe({ queue: 'deploybus.demo-builder', patterns: ['commit.pushed.*'] }, async (m) => {
    if (m.type !== 'commit.pushed') return;
    buildNumber += 1;
    const build = { repo: m.payload.repo, ref: m.payload.ref, sha: m.payload.after, job: `${m.payload.repo}-ci`, number: buildNumber, url: `http://jenkins.demo/job/${m.payload.repo}-ci/${buildNumber}/` };
    await builder.publish(builder.message('build.started', build, { correlationId: m.id }));
    await builder.publish(builder.message('build.succeeded', { ...build, durationMs: 1200 }, { correlationId: m.id }));
  });

  // The agents answer state commands on their own durable queues, all but the silent one.
  for (const [index, agent] of agents.entries()) {
    const host = AGENTS[index] ?? 'web1';
    await agent.subscribe({ queue: commandQueueName(host), patterns: [`agent.command.${host}`] }, async (m) => {
      if (m.type !== 'agent.command' || host === SILENT_AGENT) return;
      const reply = agent.message('agent.reply', { commandId: m.payload.commandId, host, status: 'succeeded', result: { apps: { demo: 'v1.0.0' } } }, { correlationId: m.id });
      await agent.reply(m, reply);
    });
  }

  // After a green build, ask every agent what it runs; the silent one is reported by name.
  await conductor.subscribe({ queue: 'deploybus.demo-conductor', patterns: ['build.succeeded.*'] }, async (m) => {
    if (m.type !== 'build.succeeded') return;
    for (const host of AGENTS) await conductor.declareQueue(commandQueueName(host), [`agent.command.${host}`]);
    const results = await Promise.all(
      AGENTS.map((host) => {
        const request = conductor.message('agent.command', { action: 'state', commandId: `c-${m.id.slice(0, 8)}-${host}`, host }, { expectReplies: true, ttlMs: 10_000 });
        return conductor.request(request, { expect: [host], timeoutMs: 1_000 });
      }),
    );
    const answered = results.flatMap((r) => [...r.replies.keys()]);
    const missing = results.flatMap((r) => r.missing);
    options.print(`  state of the fleet after build ${m.payload.number}: answered ${answered.join(', ') || 'none'}; no answer from ${missing.join(', ') || 'nobody'}`);
  });

  let commits = 0;
  const pushCommit = async (): Promise<void> => {
    commits += 1;
    const sha = (commits.toString(16).padStart(8, '0') + 'deadbeefcafe0000000000000000000000000000').slice(0, 40);
    await watcher.publish(
      watcher.message('commit.pushed', {
        repo: 'demo',
        ref: 'refs/heads/main',
        before: '0000000000000000000000000000000000000000',
        after: sha,
        commits: [{ sha, author: 'Demo <demo@example.com>', subject: `Demo change #${commits}` }],
        pusher: 'demo',
        origin: 'post-receive',
      }),
    );
  };
  await pushCommit();
  const timer = setInterval(() => {
    pushCommit().catch((error: unknown) => options.logger.error({ err: String(error) }, 'demo commit could not be published'));
  }, options.commitEveryMs);

  return {
    buses,
    async stop() {
      clearInterval(timer);
      await Promise.allSettled(buses.map((b) => b.close()));
    },
  };
}

function describe(m: Message): string {
  const from = `${m.source.service}@${m.source.host}`;
  switch (m.type) {
    case 'commit.pushed':
      return `${m.time} ${from} commit.pushed ${m.payload.repo} ${m.payload.ref} ${m.payload.after.slice(0, 8)} "${m.payload.commits[0]?.subject ?? ''}"`;
    case 'build.started':
    case 'build.succeeded':
      return `${m.time} ${from} ${m.type} ${m.payload.job} #${m.payload.number}`;
    case 'agent.command':
      return `${m.time} ${from} agent.command ${m.payload.action} -> ${m.payload.host}`;
    case 'agent.reply':
      return `${m.time} ${from} agent.reply ${m.payload.status}`;
    default:
      return `${m.time} ${from} ${m.type}`;
  }
}
