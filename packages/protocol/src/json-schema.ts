// JSON Schema (draft 2020-12) of the envelope and of every message type, made from the same zod
// schemas the library validates with, so clients in other languages can check what they send.
import { z } from 'zod';
import type { MessageSpec } from './catalog-types.js';
import { envelopeSchema, signatureSchema } from './envelope.js';

export type JsonSchema = z.core.JSONSchema.BaseSchema;

/**
 * Input mode: the schema describes what a sender may put on the wire, so fields with a default are
 * optional, and objects accept unknown fields (receivers ignore them: see "Versioning" in the docs).
 */
function toJsonSchema(schema: z.ZodType, title: string, description: string): JsonSchema {
  const { $schema: _draft, ...rest }: JsonSchema = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' });
  // Title and description first, so a person opening the file sees what it is.
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', title, description, ...rest };
}

export function envelopeJsonSchema(): JsonSchema {
  return toJsonSchema(envelopeSchema, 'deploybus envelope', 'The envelope every deploybus message travels in; `payload` depends on `type`.');
}

/** The whole message of one type: the envelope with `type` fixed and the payload schema in place. */
export function messageJsonSchema(spec: MessageSpec): JsonSchema {
  const fixed = envelopeSchema.extend({
    type: z.literal(spec.type).describe('Message type.'),
    payload: spec.payload,
  });
  const schema = spec.signedCommand
    ? fixed.extend({
        expiresAt: envelopeSchema.shape.expiresAt.unwrap().describe('After this instant the command must not be carried out; required on commands.'),
        signature: signatureSchema,
      })
    : fixed;
  return toJsonSchema(schema, spec.type, spec.summary);
}
