// deploy-agent on the real RabbitMQ: a signed deploy from a STOMP client to an AMQP agent, and an
// unsigned command published straight onto amq.topic by a foreign client (plain amqplib) is refused.
import { existsSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commandQueueName, commandRoutingKey, EVENTS_EXCHANGE } from '@deploybus/protocol';
import { AMQP_URL, requireRabbit, STOMP_URL } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, sleep, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { agentFixture, deployPayload, type AgentFixture } from './support/agent-fixture.js';

beforeAll(async () => {
  await requireRabbit();
});

let fixture: AgentFixture | undefined;
afterEach(async () => {
  const host = fixture?.host;
  await fixture?.close();
  fixture = undefined;
  if (host !== undefined) {
    const connection = await amqp.connect(AMQP_URL);
    try {
      const channel = await connection.createChannel();
      await channel.deleteQueue(commandQueueName(host));
    } finally {
      await connection.close();
    }
  }
});

describe('deploy-agent on RabbitMQ', () => {
  it('a signed deploy sent over STOMP is carried out by an agent on AMQP', async () => {
    const f = (fixture = await agentFixture({ busUrl: AMQP_URL, clientBusUrl: STOMP_URL }));
    await f.origin.release('v1.0.0', 'over the broker');
    const command = f.command(deployPayload('v1.0.0'));
    const reply = await f.run(command);
    expect(reply.payload.status).toBe('succeeded');
    expect(await readlink(join(f.deployRoot, 'current'))).toBe(`releases/${reply.payload.release!}`);
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('over the broker\n');
    await waitFor('task.completed for switch', () => f.tasks.some((t) => t.correlationId === command.id && t.type === 'task.completed' && t.payload.step === 'switch'));
  });

  it('an unsigned command published raw onto amq.topic by a foreign client is refused, nothing run', async () => {
    const marker = join(tmpdir(), randomName('foreign-ran'));
    const f = (fixture = await agentFixture({ busUrl: AMQP_URL, app: { hooks: { preDeploy: [process.execPath, '-e', `require("fs").writeFileSync(${JSON.stringify(marker)}, "")`] } } }));
    await f.origin.release('v1.0.0', 'one');
    const commandId = randomName('foreign-cmd');
    const envelope = {
      v: 1,
      id: randomUUID(),
      type: 'agent.command',
      time: new Date().toISOString(),
      source: { service: 'foreign', host: 'intruder' },
      replyTo: f.client.replyAddress,
      expiresAt: new Date(Date.now() + 30_000).toISOString(),
      payload: { action: 'deploy', commandId, host: f.host, deploymentId: 'd-foreign-1', app: 'shop', env: 'production', ref: 'v1.0.0' },
    };
    const connection = await amqp.connect(AMQP_URL);
    try {
      const channel = await connection.createConfirmChannel();
      channel.publish(EVENTS_EXCHANGE, commandRoutingKey(f.host), Buffer.from(JSON.stringify(envelope)), { contentType: 'application/json', persistent: true });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
    await waitFor('the refusal', () => f.repliesTo(commandId).length > 0);
    await sleep(200);
    expect(f.repliesTo(commandId).map((r) => [r.payload.status, r.payload.error?.split(':')[0]])).toEqual([['refused', 'UNSIGNED']]);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(f.deployRoot, 'current'))).toBe(false);
  });
});
