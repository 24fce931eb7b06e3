// deploy/rabbitmq/definitions.json against the real RabbitMQ: imported as an operator would
// (rabbitmqctl import_definitions, then deploy/rabbitmq/set-passwords.sh), every daemon's user logs
// in to vhost "deploybus" over AMQP and STOMP and does its job through the real bus, and the broker
// refuses a user that publishes or binds where its permissions do not reach. The vhost and the
// users are deleted afterwards; the broker itself is never stopped.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { commandQueueName, commandRoutingKey, messageSpecByType, workQueueName, type Message, type MessageType, type PayloadInputOf } from '@deploybus/protocol';
import { rabbitmqctl, requireRabbit } from '../../bus/test/support/rabbit-harness.js';
import { CaptureLogger } from '../../bus/test/support/capture-logger.js';
import { randomName, waitFor } from '../../bus/test/support/wait-for.js';
import { DAEMONS } from './support/deploy-layout.js';

const run = promisify(execFile);
const DEFINITIONS = fileURLToPath(new URL('../../../deploy/rabbitmq/definitions.json', import.meta.url));
const SET_PASSWORDS = fileURLToPath(new URL('../../../deploy/rabbitmq/set-passwords.sh', import.meta.url));
const VHOST = 'deploybus';

interface Definitions {
  readonly vhosts: ReadonlyArray<{ readonly name: string }>;
  readonly users: ReadonlyArray<{ readonly name: string; readonly password_hash: string }>;
  readonly permissions: ReadonlyArray<{ readonly user: string }>;
  readonly topic_permissions: ReadonlyArray<{ readonly user: string; readonly exchange: string }>;
  readonly policies: ReadonlyArray<{ readonly name: string; readonly pattern: string; readonly definition: Record<string, unknown> }>;
}

type Transport = 'amqp' | 'stomp';
const secret = randomName('pw');
const passwordOf = (user: string): string => `${user}-${secret}`;

function busUrl(transport: Transport, user: string, password = passwordOf(user)): string {
  return transport === 'amqp' ? `amqp://${user}:${password}@127.0.0.1:5672/${VHOST}` : `stomp://${user}:${password}@127.0.0.1:61613/${VHOST}`;
}

function example<T extends MessageType>(type: T, overrides: Partial<PayloadInputOf<T>> = {}): PayloadInputOf<T> {
  const spec = messageSpecByType.get(type);
  if (!spec) throw new Error(`no message type ${type}`);
  return { ...(spec.example as PayloadInputOf<T>), ...overrides };
}

/** The buses a test opened, closed in its finally. */
class Fleet {
  private readonly buses: Bus[] = [];
  readonly logger = new CaptureLogger();
  constructor(private readonly transport: Transport) {}

  async open(user: string, host = 'ops1', options: { publishTimeoutMs?: number } = {}): Promise<Bus> {
    const bus = await connectBus(busUrl(this.transport, user), {
      service: user,
      host,
      logger: this.logger,
      connectTimeoutMs: 10_000,
      publishTimeoutMs: options.publishTimeoutMs ?? 10_000,
      reconnect: { initialMs: 100, maxMs: 500 },
    });
    this.buses.push(bus);
    return bus;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.buses.map((bus) => bus.close()));
  }
}

/** Collects what a subscription receives. */
function inbox(): { readonly messages: Message[]; readonly types: () => string[]; readonly handler: (message: Message) => void } {
  const messages: Message[] = [];
  return { messages, types: () => messages.map((m) => `${m.type} from ${m.source.service}`).sort(), handler: (message) => void messages.push(message) };
}

/**
 * A refused operation never reports success. Over STOMP the broker's ERROR frame names the refusal
 * (access_refused); over AMQP the broker closes the channel, which the bus sees as a lost connection:
 * the publish is held, retried on each reconnect, refused each time, and fails when its publish
 * timeout runs out (BusUnavailableError, "a publishing channel was closed by the broker"). A refused
 * binding fails the subscribe at once.
 */
async function expectRefused(operation: Promise<unknown>, what: string): Promise<void> {
  const error = await operation.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error, `${what} must fail`).toBeInstanceOf(Error);
  expect(String(error), what).toMatch(/refused|denied|403|closed by the broker/i);
}

async function importDefinitions(): Promise<void> {
  await rabbitmqctl('import_definitions', DEFINITIONS);
  // The import runs asynchronously on the broker: wait until its last part (policies) is there.
  const definitions = JSON.parse(await readFile(DEFINITIONS, 'utf8')) as Definitions;
  await waitFor('the definitions import to finish', async () => {
    const policies = await rabbitmqctl('-q', 'list_policies', '-p', VHOST, '--no-table-headers').catch(() => '');
    return definitions.policies.every((p) => policies.includes(p.name));
  }, 30_000);
}

async function setPasswords(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'deploybus-passwords-'));
  try {
    const definitions = JSON.parse(await readFile(DEFINITIONS, 'utf8')) as Definitions;
    for (const user of definitions.users) await writeFile(join(dir, user.name), `${passwordOf(user.name)}\n`, { mode: 0o600 });
    const { stdout } = await run('sh', [SET_PASSWORDS, dir], { timeout: 120_000 });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let definitions: Definitions;
const users = (): string[] => definitions.users.map((u) => u.name);

beforeAll(async () => {
  await requireRabbit();
  definitions = JSON.parse(await readFile(DEFINITIONS, 'utf8')) as Definitions;
  await importDefinitions();
  const output = await setPasswords();
  expect(output).toContain(`set ${definitions.users.length} password(s) on vhost "${VHOST}"`);
}, 180_000);

afterAll(async () => {
  await rabbitmqctl('delete_vhost', VHOST).catch(() => undefined);
  for (const user of definitions?.users ?? []) await rabbitmqctl('delete_user', user.name).catch(() => undefined);
}, 120_000);

describe('deploy/rabbitmq/definitions.json', () => {
  it('declares one vhost, a user per daemon with permissions and topic permissions on amq.topic, and no passwords', () => {
    expect(definitions.vhosts.map((v) => v.name)).toEqual([VHOST]);
    expect(users()).toEqual(expect.arrayContaining([...DAEMONS]));
    for (const user of definitions.users) {
      expect(user.password_hash, `${user.name} ships without a password`).toBe('');
      expect(definitions.permissions.filter((p) => p.user === user.name)).toHaveLength(1);
      expect(definitions.topic_permissions.filter((p) => p.user === user.name && p.exchange === 'amq.topic')).toHaveLength(1);
    }
    const queues = definitions.policies.find((p) => p.pattern === '^deploybus\\.');
    expect(queues?.definition['delivery-limit']).toBeGreaterThan(5); // above the bus's own 5 attempts
  });

  it('imports again without change (idempotent), and a re-import blanks the passwords until set-passwords.sh runs again', async () => {
    const state = async (): Promise<string[]> =>
      Promise.all([
        rabbitmqctl('-q', 'list_permissions', '-p', VHOST, '--no-table-headers'),
        rabbitmqctl('-q', 'list_topic_permissions', '-p', VHOST, '--no-table-headers'),
        rabbitmqctl('-q', 'list_policies', '-p', VHOST, '--no-table-headers'),
      ]).then((parts) => parts.map((part) => part.split('\n').sort().join('\n')));
    const before = await state();
    await importDefinitions();
    await waitFor('the re-import to blank the git-watcher password', async () => {
      try {
        await rabbitmqctl('authenticate_user', 'git-watcher', passwordOf('git-watcher'));
        return false;
      } catch {
        return true;
      }
    }, 30_000);
    expect(await state()).toEqual(before);
    await setPasswords();
    await expect(rabbitmqctl('authenticate_user', 'git-watcher', passwordOf('git-watcher'))).resolves.toContain('Success');
  });

  it('set-passwords.sh also reads DEPLOYBUS_PASSWORD_<USER> (as compose passes them), and names the users it had none for', async () => {
    const rotated = `${passwordOf('git-watcher')}-rotated`;
    try {
      const { stdout, stderr } = await run('sh', [SET_PASSWORDS], { env: { ...process.env, DEPLOYBUS_PASSWORD_GIT_WATCHER: rotated }, timeout: 120_000 });
      expect(stdout).toContain('set 1 password(s)');
      expect(stderr).toMatch(/no password given for:.* jenkins-trigger/);
      await expect(rabbitmqctl('authenticate_user', 'git-watcher', rotated)).resolves.toContain('Success');
      // The others were left as they were.
      await expect(rabbitmqctl('authenticate_user', 'keepalive', passwordOf('keepalive'))).resolves.toContain('Success');
    } finally {
      await setPasswords();
    }
  });
});

describe.each(['amqp', 'stomp'] as const)('the daemon users over %s', (transport) => {
  it('every user logs in to the deploybus vhost (declaring the dead-letter queue as every client does); a wrong password is refused', async () => {
    const fleet = new Fleet(transport);
    try {
      for (const user of users()) {
        const bus = await fleet.open(user);
        expect(bus.state, user).toBe('connected');
      }
      await expect(
        connectBus(busUrl(transport, 'git-watcher', 'wrong'), { service: 'git-watcher', host: 'ops1', logger: fleet.logger, connectTimeoutMs: 1_500, reconnect: { initialMs: 100, maxMs: 200 } }),
      ).rejects.toThrow();
    } finally {
      await fleet.close();
    }
  });

  it('the build flow: hooks and git-watcher to jenkins-trigger and repo-updater, builds to repo-updater, the conductor and web', async () => {
    const fleet = new Fleet(transport);
    try {
      const jenkins = await fleet.open('jenkins-trigger');
      const toJenkins = inbox();
      await jenkins.subscribe({ queue: workQueueName('jenkins-trigger'), patterns: ['commit.pushed.*'] }, toJenkins.handler);
      const updater = await fleet.open('repo-updater', 'web1');
      const toUpdater = inbox();
      await updater.subscribe({ patterns: ['build.succeeded.*', 'commit.pushed.*', 'package.updated.*'] }, toUpdater.handler);
      const conductor = await fleet.open('conductor');
      const toConductor = inbox();
      await conductor.subscribe({ queue: workQueueName('conductor'), patterns: ['build.succeeded.#', 'build.failed.#', 'repo.updated.#'] }, toConductor.handler);
      const web = await fleet.open('web');
      const toWeb = inbox();
      await web.subscribe({ patterns: ['commit.#', 'image.#', 'build.#', 'repo.#', 'package.#'] }, toWeb.handler);
      // The agent beside repo-updater hears its host's fetches (to prepare releases) on a private queue.
      const agent = await fleet.open('deploy-agent', 'web1');
      const toAgent = inbox();
      await agent.subscribe({ patterns: ['repo.updated.shop.web1'] }, toAgent.handler);

      const watcher = await fleet.open('git-watcher');
      const hook = await fleet.open('git-hook', 'git1');
      const cli = await fleet.open('cli');
      await watcher.publish(watcher.message('commit.pushed', example('commit.pushed', { origin: 'github' })));
      await hook.publish(hook.message('commit.pushed', example('commit.pushed')));
      await watcher.publish(watcher.message('image.pushed', example('image.pushed')));
      await jenkins.publish(jenkins.message('build.requested', example('build.requested')));
      await jenkins.publish(jenkins.message('build.started', example('build.started')));
      await jenkins.publish(jenkins.message('build.succeeded', example('build.succeeded')));
      await updater.publish(updater.message('repo.updated', example('repo.updated', { host: 'web1' })));
      await cli.publish(cli.message('package.updated', example('package.updated')));
      await updater.publish(updater.message('package.refreshed', example('package.refreshed', { host: 'web1' })));

      await waitFor('web to see all nine events', () => toWeb.messages.length === 9);
      await waitFor('jenkins-trigger to get both pushes', () => toJenkins.messages.length === 2);
      await waitFor('repo-updater to get pushes, the build and the package', () => toUpdater.messages.length === 4);
      await waitFor('the conductor to get the build and the fetch', () => toConductor.messages.length === 2);
      expect(toJenkins.types()).toEqual(['commit.pushed from git-hook', 'commit.pushed from git-watcher']);
      expect(toUpdater.types()).toEqual(['build.succeeded from jenkins-trigger', 'commit.pushed from git-hook', 'commit.pushed from git-watcher', 'package.updated from cli']);
      expect(toConductor.types()).toEqual(['build.succeeded from jenkins-trigger', 'repo.updated from repo-updater']);
      await waitFor('the agent on web1 to hear its fetch', () => toAgent.messages.length === 1);
      expect(toAgent.types()).toEqual(['repo.updated from repo-updater']);
    } finally {
      await fleet.close();
    }
  });

  it('requests and replies: deploy requests to the conductor, roster queries to keepalive, signed-command traffic to an agent and its progress to web', async () => {
    const fleet = new Fleet(transport);
    try {
      const conductor = await fleet.open('conductor');
      await conductor.subscribe({ queue: workQueueName('conductor'), patterns: ['deploy.requested.#'] }, async (request) => {
        await conductor.reply(request, conductor.message('deploy.queued', example('deploy.queued'), { correlationId: request.id }));
      });
      const keepalive = await fleet.open('keepalive', 'mon1');
      await keepalive.subscribe({ patterns: ['roster.query'] }, async (query) => {
        await keepalive.reply(query, keepalive.message('roster.reply', example('roster.reply'), { correlationId: query.id }));
      });
      const agentHost = 'web1';
      // The conductor makes sure the agent's queue exists, so commands wait for an agent that is away.
      await conductor.declareQueue(commandQueueName(agentHost), [commandRoutingKey(agentHost)]);
      const agent = await fleet.open('deploy-agent', agentHost);
      await agent.subscribe({ queue: commandQueueName(agentHost), patterns: [commandRoutingKey(agentHost)] }, async (command) => {
        await agent.publish(agent.message('task.started', example('task.started', { host: agentHost })));
        await agent.reply(command, agent.message('agent.reply', example('agent.reply', { host: agentHost }), { correlationId: command.id }));
      });
      const web = await fleet.open('web');
      const progress = inbox();
      await web.subscribe({ patterns: ['task.#', 'deploy.#'] }, progress.handler);
      const cli = await fleet.open('cli');

      const deploy = await cli.request(cli.message('deploy.requested', example('deploy.requested'), { expectReplies: true }), { expect: ['ops1'], timeoutMs: 15_000 });
      expect(deploy.complete).toBe(true);
      expect(deploy.replies.get('ops1')?.type).toBe('deploy.queued');

      const roster = await web.request(web.message('roster.query', example('roster.query'), { expectReplies: true }), { expect: ['mon1'], timeoutMs: 15_000 });
      expect(roster.replies.get('mon1')?.type).toBe('roster.reply');

      const command = conductor.message('agent.command', example('agent.command', { host: agentHost }), { expectReplies: true, ttlMs: 60_000 });
      const result = await conductor.request(command, { expect: [agentHost], timeoutMs: 15_000 });
      expect(result.replies.get(agentHost)?.type).toBe('agent.reply');
      await conductor.publish(conductor.message('deploy.succeeded', example('deploy.succeeded')));
      await waitFor('web to see the request, the task and the deploy result', () => progress.messages.length === 3);
      expect(progress.types()).toEqual(['deploy.requested from cli', 'deploy.succeeded from conductor', 'task.started from deploy-agent']);
    } finally {
      await fleet.close();
    }
  });

  it('the notifier: subscription requests from web and cli answered on its shared queue, the event log asked of the conductor, woken by deploy events, its failing/recovered broadcast heard by web', async () => {
    const fleet = new Fleet(transport);
    try {
      const notifier = await fleet.open('notifier', 'ops2');
      await notifier.subscribe({ queue: workQueueName('notifier'), patterns: ['notifier.subscription.requested.*'] }, async (request) => {
        await notifier.reply(request, notifier.message('subscription.state', example('subscription.state', { outcome: 'listed', subscriptions: [] }), { correlationId: request.id }));
      });
      const wakes = inbox();
      // The notifier's own wake patterns (services/notifier: WAKE_PATTERNS).
      await notifier.subscribe({ patterns: ['deploy.#', 'task.started.#', 'task.completed.#', 'conductor.lock.state.#'] }, wakes.handler);
      const conductor = await fleet.open('conductor');
      await conductor.subscribe({ queue: workQueueName('conductor'), patterns: ['conductor.state.query.*'] }, async (query) => {
        await conductor.reply(query, conductor.message('state.reply', example('state.reply', { kind: 'events', result: { events: [], cursor: 0 } }), { correlationId: query.id }));
      });
      const web = await fleet.open('web');
      const broadcasts = inbox();
      await web.subscribe({ patterns: ['notifier.subscription.state'] }, broadcasts.handler);
      const cli = await fleet.open('cli');

      for (const asker of [web, cli]) {
        const answer = await asker.request(asker.message('subscription.requested', example('subscription.requested', { action: 'list' }), { expectReplies: true }), { expect: ['ops2'], timeoutMs: 15_000 });
        expect(answer.replies.get('ops2')?.type).toBe('subscription.state');
      }
      const events = await notifier.request(notifier.message('state.query', { kind: 'events', after: 0, limit: 100 }, { expectReplies: true }), { expect: ['ops1'], timeoutMs: 15_000 });
      expect(events.replies.get('ops1')?.type).toBe('state.reply');

      await conductor.publish(conductor.message('deploy.succeeded', example('deploy.succeeded')));
      await waitFor('the notifier to be woken by deploy.succeeded', () => wakes.messages.length === 1);
      await notifier.publish(notifier.message('subscription.state', example('subscription.state', { outcome: 'recovered' })));
      await waitFor('web to hear the notifier\'s broadcast', () => broadcasts.messages.length === 1);
      expect(wakes.types()).toEqual(['deploy.succeeded from conductor']);
    } finally {
      await fleet.close();
    }
  });

  it('keepalive hears every daemon\'s heartbeat, and presence.changed reaches the conductor and web', async () => {
    const fleet = new Fleet(transport);
    try {
      const keepalive = await fleet.open('keepalive', 'mon1');
      const heard = inbox();
      await keepalive.subscribe({ patterns: ['heartbeat.#'] }, heard.handler);
      const conductor = await fleet.open('conductor');
      const presence = inbox();
      await conductor.subscribe({ patterns: ['presence.changed.#'] }, presence.handler);
      const daemons = [...DAEMONS];
      for (const service of daemons) {
        const bus = service === 'keepalive' ? keepalive : service === 'conductor' ? conductor : await fleet.open(service);
        await bus.publish(bus.message('heartbeat', example('heartbeat', { service, host: 'ops1', apps: [] })));
      }
      await keepalive.publish(keepalive.message('presence.changed', example('presence.changed')));
      await waitFor('a heartbeat from every daemon', () => heard.messages.length === daemons.length);
      await waitFor('the conductor to see presence.changed', () => presence.messages.length === 1);
      expect(heard.messages.map((m) => m.source.service).sort()).toEqual([...daemons].sort());
    } finally {
      await fleet.close();
    }
  });

  it('the broker refuses what a user may not do: git-watcher or web sending agent commands, a forged heartbeat, binding to everything', async () => {
    const fleet = new Fleet(transport);
    try {
      const agentHost = 'web2';
      const agent = await fleet.open('deploy-agent', agentHost);
      const commands = inbox();
      await agent.subscribe({ queue: commandQueueName(agentHost), patterns: [commandRoutingKey(agentHost)] }, commands.handler);

      const forbidden: Array<[string, MessageType, string | undefined]> = [
        ['git-watcher', 'agent.command', undefined],
        ['web', 'agent.command', undefined],
        ['jenkins-trigger', 'deploy.requested', undefined],
        ['git-hook', 'deploy.succeeded', undefined],
        ['keepalive', 'heartbeat', 'heartbeat.conductor.ops1'], // a heartbeat in another daemon's name
        ['notifier', 'agent.command', undefined],
        ['notifier', 'deploy.requested', undefined],
        ['notifier', 'state.query', 'conductor.state.query.history'], // only the event log and single deployments
      ];
      for (const [user, type, routingKey] of forbidden) {
        const bus = await fleet.open(user, 'ops1', { publishTimeoutMs: 3_000 });
        const payload = type === 'agent.command' ? example('agent.command', { host: agentHost }) : example(type);
        const message = bus.message(type, payload as PayloadInputOf<typeof type>);
        await expectRefused(bus.publish(message, routingKey === undefined ? {} : { routingKey }), `${user} publishing ${type}`);
      }
      // The only user that may: the conductor. Its command is the first the agent ever gets.
      const conductor = await fleet.open('conductor');
      await conductor.publish(conductor.message('agent.command', example('agent.command', { host: agentHost, commandId: 'c-allowed' })));
      await waitFor('the conductor\'s command', () => commands.messages.length >= 1);
      expect(commands.messages.map((m) => m.source.service)).toEqual(['conductor']);

      // Binding to a routing key outside the user's read permission is refused too.
      const watcher = await fleet.open('git-watcher', 'ops1', { publishTimeoutMs: 3_000 });
      await expectRefused(watcher.subscribe({ patterns: ['#'] }, () => undefined), 'git-watcher binding #');
      const web = await fleet.open('web', 'ops1', { publishTimeoutMs: 3_000 });
      await expectRefused(web.subscribe({ patterns: ['agent.command.*'] }, () => undefined), 'web binding agent.command.*');
      const notifier = await fleet.open('notifier', 'ops1', { publishTimeoutMs: 3_000 });
      await expectRefused(notifier.subscribe({ patterns: ['agent.command.*'] }, () => undefined), 'notifier binding agent.command.*');
    } finally {
      await fleet.close();
    }
  });
});
