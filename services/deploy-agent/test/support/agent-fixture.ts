// A deploy-agent on a bus with a real origin repository, a deploy root and a state dir in a temp
// dir, and a "conductor" client that signs commands and collects the replies and task.* events.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { connectBus, type Bus } from '@deploybus/bus';
import { generateSigningKeyPair, signMessage, type Message, type PayloadInputOf } from '@deploybus/protocol';
import { deployAgentConfigSchema, startDeployAgent, type DeployAgent, type DeployAgentConfig } from '../../src/index.js';
import { CaptureLogger } from '../../../../packages/bus/test/support/capture-logger.js';
import { randomName, waitFor } from '../../../../packages/bus/test/support/wait-for.js';

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const result = await execa('git', args, { cwd, env: { LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' } });
  return String(result.stdout).trim();
}

export interface Origin {
  readonly path: string;
  /** Commits `content` as app.txt and tags it. */
  release(tag: string, content: string): Promise<string>;
}

export async function makeOrigin(root: string): Promise<Origin> {
  const path = join(root, 'origin');
  await execa('git', ['init', '--quiet', '--initial-branch=main', path]);
  await git(path, 'config', 'user.email', 'ada@example.com');
  await git(path, 'config', 'user.name', 'Ada');
  return {
    path,
    release: async (tag, content) => {
      await writeFile(join(path, 'app.txt'), `${content}\n`);
      await git(path, 'add', 'app.txt');
      await git(path, 'commit', '--quiet', '-m', `release ${tag}`);
      await git(path, 'tag', tag);
      return git(path, 'rev-parse', 'HEAD');
    },
  };
}

export type AppOverrides = Record<string, unknown>;

export interface FixtureOptions {
  readonly busUrl?: string;
  /** The signing client's bus (default: busUrl), e.g. STOMP while the agent speaks AMQP. */
  readonly clientBusUrl?: string;
  /** Extra keys for the app "shop" (hooks, healthCheck, actions...). */
  readonly app?: AppOverrides;
  /** More apps on this agent, from the same origin, each deploying into deploy/<name>. */
  readonly otherApps?: ReadonlyArray<{ readonly name: string } & AppOverrides>;
  readonly commandMaxAgeMs?: number;
  /** The agent's clock (default: the real one). */
  readonly now?: () => Date;
}

export interface AgentFixture {
  readonly root: string;
  readonly host: string;
  readonly deployRoot: string;
  readonly origin: Origin;
  readonly config: DeployAgentConfig;
  readonly client: Bus;
  readonly agentBus: Bus;
  readonly logger: CaptureLogger;
  readonly keyId: string;
  readonly privateKey: string;
  readonly replies: Message<'agent.reply'>[];
  readonly tasks: Message[];
  agent: DeployAgent;
  /** Builds an agent.command (signed by the trusted key unless told otherwise). */
  command(payload: DistributiveOmit<PayloadInputOf<'agent.command'>, 'host' | 'commandId'> & { commandId?: string }, options?: { ttlMs?: number; sign?: 'trusted' | 'none' | 'untrusted' }): Message<'agent.command'>;
  send(command: Message): Promise<void>;
  /** Sends a command and waits for its final reply (anything but "accepted"). */
  run(command: Message<'agent.command'>): Promise<Message<'agent.reply'>>;
  repliesTo(commandId: string): Message<'agent.reply'>[];
  restartAgent(): Promise<void>;
  close(): Promise<void>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export async function agentFixture(options: FixtureOptions = {}): Promise<AgentFixture> {
  const root = await mkdtemp(join(tmpdir(), 'deploy-agent-'));
  const origin = await makeOrigin(root);
  const host = randomName('web');
  const busUrl = options.busUrl ?? `memory://${randomName('agent')}`;
  const keys = generateSigningKeyPair();
  const untrusted = generateSigningKeyPair();
  const keyId = 'conductor-1';
  const deployRoot = join(root, 'deploy', 'shop');
  const config = deployAgentConfigSchema.parse({
    host,
    bus: { url: busUrl },
    mirrorsDir: join(root, 'mirrors'),
    stateDir: join(root, 'state'),
    trustedKeys: [{ keyId, publicKey: keys.publicKey }],
    commandMaxAgeMs: options.commandMaxAgeMs ?? 60_000,
    logBatchMs: 20,
    apps: [
      { name: 'shop', env: 'production', repo: 'shop', url: origin.path, deployRoot, roles: ['web'], ...options.app },
      ...(options.otherApps ?? []).map((other) => ({ env: 'production', repo: 'shop', url: origin.path, deployRoot: join(root, 'deploy', other.name), ...other })),
    ],
  });
  const logger = new CaptureLogger();
  const client = await connectBus(options.clientBusUrl ?? busUrl, { service: 'conductor', host: randomName('conductor') });
  const agentBus = await connectBus(busUrl, { service: 'deploy-agent', host, logger });
  const replies: Message<'agent.reply'>[] = [];
  const tasks: Message[] = [];
  const replySub = await client.subscribe({ patterns: [client.replyAddress] }, (message) => {
    if (message.type === 'agent.reply') replies.push(message);
  });
  const taskSub = await client.subscribe({ patterns: ['task.#'] }, (message) => {
    tasks.push(message);
  });
  const fixture: AgentFixture = {
    root,
    host,
    deployRoot,
    origin,
    config,
    client,
    agentBus,
    logger,
    keyId,
    privateKey: keys.privateKey,
    replies,
    tasks,
    agent: await startDeployAgent({ config, bus: agentBus, host, logger, ...(options.now === undefined ? {} : { now: options.now }) }),
    command(payload, opts = {}) {
      const message = client.message('agent.command', { commandId: randomName('cmd'), ...payload, host } as PayloadInputOf<'agent.command'>, { ttlMs: opts.ttlMs ?? 30_000, expectReplies: true });
      const sign = opts.sign ?? 'trusted';
      if (sign === 'none') return message;
      return signMessage(message, { privateKey: sign === 'trusted' ? keys.privateKey : untrusted.privateKey, keyId });
    },
    send: (command) => client.publish(command),
    async run(command) {
      await client.publish(command);
      const id = command.payload.commandId;
      await waitFor(`final reply to ${id}`, () => replies.some((r) => r.payload.commandId === id && r.payload.status !== 'accepted'), 60_000);
      return replies.find((r) => r.payload.commandId === id && r.payload.status !== 'accepted')!;
    },
    repliesTo: (commandId) => replies.filter((r) => r.payload.commandId === commandId),
    async restartAgent() {
      await fixture.agent.stop();
      fixture.agent = await startDeployAgent({ config, bus: agentBus, host, logger, ...(options.now === undefined ? {} : { now: options.now }) });
    },
    async close() {
      await fixture.agent.stop().catch(() => undefined);
      await replySub.unsubscribe().catch(() => undefined);
      await taskSub.unsubscribe().catch(() => undefined);
      await client.close();
      await agentBus.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** A deploy command for "shop" in production. */
export function deployPayload(ref: string): { action: 'deploy'; deploymentId: string; app: string; env: string; ref: string } {
  return { action: 'deploy', deploymentId: randomName('deployment'), app: 'shop', env: 'production', ref };
}
