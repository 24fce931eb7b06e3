// The messages the bench sends: deploybus envelopes of about 300 bytes. The raw clients send the very
// same bytes (throughput) or an envelope of the same shape built by hand (fan-out), so neither side
// carries more data than the other.
import { randomUUID } from 'node:crypto';
import { createMessage, encodeMessage, PROTOCOL_VERSION, type Message, type Source } from '@deploybus/protocol';

/** Heartbeats as a deploy agent sends them; `host` makes their routing key unique to the run. */
export function heartbeats(count: number, host: string): Message<'heartbeat'>[] {
  const source: Source = { service: 'deploy-agent', host };
  const started = Date.now();
  const messages: Message<'heartbeat'>[] = [];
  for (let i = 0; i < count; i += 1) {
    messages.push(
      createMessage(
        'heartbeat',
        {
          service: 'deploy-agent',
          host,
          instance: 'pid-3121',
          version: '0.1.0',
          uptimeMs: 360_000 + i,
          intervalMs: 10_000,
        },
        { source, now: new Date(started + i) },
      ),
    );
  }
  return messages;
}

export function encodedSize(message: Message): number {
  return encodeMessage(message).byteLength;
}

/** The JSON a raw client sends for a fan-out request or reply: a deploybus envelope, unvalidated. */
export interface RawEnvelope {
  readonly v: number;
  readonly id: string;
  readonly type: string;
  readonly time: string;
  readonly source: Source;
  readonly correlationId?: string;
  readonly replyTo?: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

export function rawEnvelope(
  type: string,
  source: Source,
  payload: Readonly<Record<string, unknown>>,
  extra: { correlationId?: string; replyTo?: string } = {},
): { readonly id: string; readonly body: Buffer } {
  const envelope: RawEnvelope = { v: PROTOCOL_VERSION, id: randomUUID(), type, time: new Date().toISOString(), source, ...extra, payload };
  return { id: envelope.id, body: Buffer.from(JSON.stringify(envelope)) };
}

/** Reads back what rawEnvelope wrote; the raw clients trust their peers and do not validate. */
export function readRawEnvelope(body: Buffer | string): RawEnvelope {
  return JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as RawEnvelope;
}

export function messageAt(messages: readonly Message[], index: number): Message {
  const message = messages[index];
  if (message === undefined) throw new RangeError(`no message ${index} of ${messages.length}`);
  return message;
}
