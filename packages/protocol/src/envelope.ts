// The envelope every deploybus message travels in, whatever its type.
import { z } from 'zod';
import { hostSchema, nameSchema } from './names.js';

/** Major protocol version. A receiver accepts messages of its own major version only. */
export const PROTOCOL_VERSION = 1;

/** Largest body a receiver accepts; larger ones are refused before parsing. */
export const MAX_BODY_BYTES = 1024 * 1024;

export const sourceSchema = z
  .object({
    service: nameSchema.describe('The daemon or client that sent the message, e.g. "git-watcher".'),
    host: hostSchema.describe('The host it runs on.'),
  })
  .describe('Who sent the message.');

export const signatureSchema = z
  .object({
    alg: z.literal('ed25519').describe('Signature algorithm; only "ed25519" exists.'),
    keyId: z.string().min(1).max(128).describe('Names the public key that verifies the signature.'),
    value: z.string().min(1).max(256).describe('The 64-byte Ed25519 signature in padded standard base64 (see "Signing").'),
  })
  .describe('Ed25519 signature over the rest of the message; required on agent commands.');

const isoTime = z.iso.datetime({ offset: true });

/** Fields every message carries; `type` and `payload` are narrowed per message type. */
export const envelopeSchema = z.object({
  v: z.literal(PROTOCOL_VERSION).describe('Protocol major version; receivers refuse any other.'),
  id: z.string().min(8).max(128).describe('Unique message id (a UUID is best); a receiver drops a message whose id it already handled.'),
  type: z.string().min(1).max(64).describe('Message type, e.g. "commit.pushed"; says what `payload` holds.'),
  time: isoTime.describe('When the message was created.'),
  source: sourceSchema,
  correlationId: z.string().min(1).max(128).optional().describe('On a reply: the `id` of the request it answers. On a follow-up event: the `id` of the message that caused it.'),
  replyTo: z
    .string()
    .regex(/^reply\.[A-Za-z0-9_-]{1,128}$/)
    .optional()
    .describe('On a request: the routing key `reply.<id>` (on amq.topic) where replies go.'),
  expiresAt: isoTime.optional().describe('After this instant the message must not be acted on; receivers acknowledge and drop it.'),
  payload: z.unknown().describe('The message itself; its fields depend on `type` (see "Message types").'),
  signature: signatureSchema.optional(),
});

export type EnvelopeFields = z.infer<typeof envelopeSchema>;
export type Source = z.infer<typeof sourceSchema>;
export type Signature = z.infer<typeof signatureSchema>;
