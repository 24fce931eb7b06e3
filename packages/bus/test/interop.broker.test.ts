// One protocol, two wire transports: a STOMP daemon and an AMQP daemon on the same RabbitMQ see
// each other's messages both ways, and a foreign STOMP client that only read docs/protocol.md
// (Python's stomp.py) takes part too.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, stompTopicDestination, type Message } from '@deploybus/protocol';
import { connectBus, type Bus } from '../src/index.js';
import { CaptureLogger } from './support/capture-logger.js';
import { AMQP_URL, requireRabbit, STOMP_URL } from './support/rabbit-harness.js';
import { randomName, waitFor } from './support/wait-for.js';

const PYTHON = '/usr/bin/python3';
const FOREIGN_CLIENT = fileURLToPath(new URL('./foreign/stomp_client.py', import.meta.url));
const buses: Bus[] = [];

async function bus(url: string, service: string, host = 'interop-host'): Promise<Bus> {
  const b = await connectBus(url, { service, host, logger: new CaptureLogger(), reconnect: { initialMs: 50, maxMs: 1_000 } });
  buses.push(b);
  return b;
}

function word(): string {
  return randomName('w').replace(/[^a-z0-9]/g, '');
}

function heartbeat(b: Bus, service: string): Message {
  return b.message('heartbeat', { service, host: 'h1', instance: 'i1', version: '1', uptimeMs: 5, intervalMs: 1000 });
}

interface Foreign {
  readonly stdout: () => string;
  readonly exited: Promise<number>;
}

function runForeign(args: string[], stdin?: string): Foreign {
  const child = spawn(PYTHON, [FOREIGN_CLIENT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(stdin ?? '');
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(0) : reject(new Error(`stomp.py client exited ${code}: ${err.trim()}`))));
  });
  return { stdout: () => out, exited };
}

beforeAll(requireRabbit);
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
});

describe('STOMP and AMQP daemons on one broker', () => {
  it.each([
    ['stomp', 'amqp'],
    ['amqp', 'stomp'],
  ])('a %s publisher reaches an %s subscriber', async (from, to) => {
    const w = word();
    const publisher = await bus(from === 'stomp' ? STOMP_URL : AMQP_URL, 'publisher');
    const subscriber = await bus(to === 'stomp' ? STOMP_URL : AMQP_URL, 'subscriber');
    const got: Message[] = [];
    await subscriber.subscribe({ patterns: [`heartbeat.${w}.#`] }, (m) => void got.push(m));
    const m = heartbeat(publisher, w);
    await publisher.publish(m);
    await waitFor('the message to cross transports', () => got.length === 1);
    expect(got[0]).toEqual(m);
  });

  it.each([
    ['amqp', 'stomp'],
    ['stomp', 'amqp'],
  ])('an %s requester gathers replies from %s responders', async (from, to) => {
    const w = word();
    const requester = await bus(from === 'stomp' ? STOMP_URL : AMQP_URL, 'conductor', 'conductor-1');
    const hosts = ['r1', 'r2', 'r3'];
    for (const host of hosts) {
      const responder = await bus(to === 'stomp' ? STOMP_URL : AMQP_URL, 'deploy-agent', host);
      await responder.subscribe({ patterns: [`agent.command.${w}`] }, (request) =>
        responder.reply(request, responder.message('agent.reply', { commandId: 'c-interop1', host, status: 'accepted' }, { correlationId: request.id })),
      );
    }
    const request = requester.message('agent.command', { action: 'state', commandId: 'c-interop1', host: w }, { expectReplies: true });
    const result = await requester.request(request, { expect: hosts, timeoutMs: 10_000 });
    expect(result.missing).toEqual([]);
    expect([...result.replies.keys()].sort()).toEqual(hosts);
  });
});

describe('a foreign STOMP client (python stomp.py) following docs/protocol.md', () => {
  it('sends a deploy.requested that deploybus subscribers on both transports receive', async () => {
    const env = word();
    const stompSide = await bus(STOMP_URL, 'conductor');
    const amqpSide = await bus(AMQP_URL, 'conductor');
    const got: Message[] = [];
    await stompSide.subscribe({ patterns: [`deploy.requested.*.${env}`] }, (m) => void got.push(m));
    await amqpSide.subscribe({ patterns: [`deploy.requested.*.${env}`] }, (m) => void got.push(m));
    // Written by hand, as a Python user would from the docs' example.
    const envelope = {
      v: 1,
      id: `py-${randomName('req')}`,
      type: 'deploy.requested',
      time: new Date().toISOString(),
      source: { service: 'chatbot', host: 'py-host' },
      payload: { app: 'shop', env, ref: 'v1.4.1', requestedBy: 'ada' },
    };
    await runForeign(['send', stompTopicDestination(`deploy.requested.shop.${env}`)], JSON.stringify(envelope)).exited;
    await waitFor('both subscribers to receive the foreign request', () => got.length === 2);
    for (const m of got) {
      expect(m.type).toBe('deploy.requested');
      expect(m.id).toBe(envelope.id);
      if (m.type === 'deploy.requested') expect(m.payload.rollout.batchSize).toBe(1); // defaults applied
    }
  });

  it('receives what deploybus publishes over STOMP and over AMQP, as valid envelopes', async () => {
    const w = word();
    const foreign = runForeign(['receive', `/topic/heartbeat.${w}.#`, '2']);
    await waitFor('the python client to subscribe', () => foreign.stdout().includes('READY'), 20_000);
    const fromStomp = await bus(STOMP_URL, 'stomp-daemon');
    const fromAmqp = await bus(AMQP_URL, 'amqp-daemon');
    const sent = [heartbeat(fromStomp, w), heartbeat(fromAmqp, w)];
    for (const [i, m] of sent.entries()) await (i === 0 ? fromStomp : fromAmqp).publish(m);
    await foreign.exited;
    const bodies = foreign.stdout().split('\n').filter((l) => l.startsWith('{'));
    const parsed = bodies.map((b) => parseMessage(b));
    expect(parsed.every((p) => p.ok)).toBe(true);
    expect(parsed.map((p) => (p.ok ? p.value.id : '')).sort()).toEqual(sent.map((m) => m.id).sort());
  });
});
