// Building and parsing whole messages: envelope + typed payload.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { envelopeSchema, MAX_BODY_BYTES, PROTOCOL_VERSION, type EnvelopeFields, type Source } from './envelope.js';
import { ProtocolError } from './errors.js';
import { messageSpecByType, type MessageType, type PayloadInputOf, type PayloadOf } from './messages.js';

/** A parsed, valid message of type T. */
export type Message<T extends MessageType = MessageType> = {
  [K in T]: Omit<EnvelopeFields, 'type' | 'payload'> & { type: K; payload: PayloadOf<K> };
}[T];

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

export interface CreateOptions {
  source: Source;
  correlationId?: string;
  replyTo?: string;
  /** Time to live; sets `expiresAt`. */
  ttlMs?: number;
  id?: string;
  now?: Date;
}

/** The envelope fields a sender chooses; createMessage makes the others (v, type, time, expiresAt) itself. */
const senderFieldsSchema = envelopeSchema.pick({ id: true, correlationId: true, replyTo: true, source: true });
/** Sources already found valid: a frozen object cannot change after its check. */
const checkedSources = new WeakSet<Source>();

/**
 * Builds a message, validating what the caller gave (payload, source, id, correlation and reply
 * address) so that a bug is caught at the sender, not the receivers. The fields it makes itself are
 * not checked again; receivers check the whole message as always. A frozen `source` (every bus
 * client's is) is checked once.
 */
export function createMessage<T extends MessageType>(type: T, payload: PayloadInputOf<T>, options: CreateOptions): Message<T> {
  const spec = messageSpecByType.get(type);
  if (!spec) throw new ProtocolError('UNKNOWN_TYPE', 'type', `type: unknown message type "${String(type).slice(0, 64)}"`, { messageType: String(type) });
  const now = options.now ?? new Date();
  const id = options.id ?? randomUUID();
  const { source, correlationId, replyTo } = options;
  if (options.id !== undefined || correlationId !== undefined || replyTo !== undefined || !checkedSources.has(source)) {
    const fields = senderFieldsSchema.safeParse({ id, source, correlationId, replyTo });
    if (!fields.success) throw envelopeError(fields.error, type);
    if (Object.isFrozen(source)) checkedSources.add(source);
  }
  const checked = spec.payload.safeParse(payload);
  if (!checked.success) throw payloadError(checked.error, spec.type);
  const message: Record<string, unknown> = { v: PROTOCOL_VERSION, id, type, time: now.toISOString(), source: { service: source.service, host: source.host } };
  if (correlationId !== undefined) message['correlationId'] = correlationId;
  if (replyTo !== undefined) message['replyTo'] = replyTo;
  if (options.ttlMs !== undefined) message['expiresAt'] = new Date(now.getTime() + options.ttlMs).toISOString();
  message['payload'] = checked.data;
  return message as Message<T>;
}

function describeIssue(issue: z.core.$ZodIssue, prefix: string): { field: string; text: string } {
  const field = [prefix, ...issue.path.map(String)].filter((s) => s !== '').join('.');
  return { field, text: `${field || 'message'}: ${issue.message}` };
}

/** The envelope's first problem, named by its field. */
function envelopeError(error: z.ZodError, messageType: string | undefined): ProtocolError {
  const first = error.issues[0];
  const { field, text } = first ? describeIssue(first, '') : { field: '', text: 'invalid envelope' };
  return new ProtocolError('INVALID_ENVELOPE', field, text, { messageType, cause: error });
}

/** The payload's first problem, named by its field under `payload`. */
function payloadError(error: z.ZodError, messageType: string): ProtocolError {
  const first = error.issues[0];
  const { field, text } = first ? describeIssue(first, 'payload') : { field: 'payload', text: 'payload: invalid' };
  return new ProtocolError('INVALID_PAYLOAD', field, `${messageType} ${text}`, { messageType, cause: error });
}

/** Validates an already-decoded JSON value as a message. Never throws. */
export function validateMessage(value: unknown): ParseResult<Message> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(new ProtocolError('INVALID_ENVELOPE', '', 'message: must be a JSON object'));
  }
  const record = value as Record<string, unknown>;
  const typeName = typeof record['type'] === 'string' ? record['type'] : undefined;
  if (record['v'] !== PROTOCOL_VERSION && typeof record['v'] === 'number') {
    return fail(
      new ProtocolError('UNSUPPORTED_VERSION', 'v', `v: protocol version ${String(record['v'])} is not supported (this side speaks ${PROTOCOL_VERSION})`, {
        messageType: typeName,
      }),
    );
  }
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success) return fail(envelopeError(envelope.error, typeName));
  const spec = messageSpecByType.get(envelope.data.type);
  if (!spec) {
    return fail(new ProtocolError('UNKNOWN_TYPE', 'type', `type: unknown message type "${envelope.data.type.slice(0, 64)}"`, { messageType: envelope.data.type }));
  }
  const payload = spec.payload.safeParse(envelope.data.payload);
  if (!payload.success) return fail(payloadError(payload.error, spec.type));
  return { ok: true, value: { ...envelope.data, payload: payload.data } as Message };
}

/**
 * Decodes a wire body (UTF-8 JSON) without validating it: the step before verifyMessage, which must see
 * the message as sent. Never throws.
 */
export function decodeBody(body: string | Uint8Array): ParseResult<unknown> {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (size > MAX_BODY_BYTES) {
    return fail(new ProtocolError('BODY_TOO_LARGE', '', `message: body of ${size} bytes is over the ${MAX_BODY_BYTES}-byte limit`));
  }
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    return fail(new ProtocolError('MALFORMED_JSON', '', `message: body is not valid JSON (${detail})`, { cause }));
  }
}

/** Parses a wire body (UTF-8 JSON). Never throws: hostile input yields a ProtocolError naming the problem. */
export function parseMessage(body: string | Uint8Array): ParseResult<Message> {
  const decoded = decodeBody(body);
  return decoded.ok ? validateMessage(decoded.value) : decoded;
}

export function encodeMessage(message: Message): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/** The routing key a message is published under. */
export function routingKeyOf(message: Message): string {
  const spec = messageSpecByType.get(message.type);
  if (!spec) throw new ProtocolError('UNKNOWN_TYPE', 'type', `type: unknown message type "${message.type}"`);
  return (spec.routingKey as (p: unknown) => string)(message.payload);
}

export function isExpired(message: Pick<EnvelopeFields, 'expiresAt'>, now: Date = new Date()): boolean {
  return message.expiresAt !== undefined && Date.parse(message.expiresAt) <= now.getTime();
}

/**
 * The broker-side `expiration` (milliseconds, as AMQP and STOMP take it) for a message with `expiresAt`:
 * the time left, at least 1 so an already-late message is dropped by the broker rather than kept forever.
 */
export function expirationMsOf(message: Pick<EnvelopeFields, 'expiresAt'>, now: Date = new Date()): number | undefined {
  if (message.expiresAt === undefined) return undefined;
  return Math.max(1, Math.ceil(Date.parse(message.expiresAt) - now.getTime()));
}

/** Narrows a message to one type. */
export function isMessageOfType<T extends MessageType>(message: Message, type: T): message is Extract<Message, { type: T }> {
  return message.type === type;
}

function fail(error: ProtocolError): ParseResult<never> {
  return { ok: false, error };
}
