// How a message type is described: its payload schema, where it is routed, and an example.
import type { z } from 'zod';

export interface MessageSpec<TType extends string = string, TPayload extends z.ZodType = z.ZodType> {
  readonly type: TType;
  /** One sentence for the docs: who sends it, when, and who listens. */
  readonly summary: string;
  readonly payload: TPayload;
  /** Routing-key template for the docs, e.g. `commit.pushed.{repo}`. */
  readonly routingTemplate: string;
  /** The routing key for a valid payload. */
  readonly routingKey: (payload: z.infer<TPayload>) => string;
  readonly example: z.input<TPayload>;
  /** Receivers refuse it unless it is signed (Ed25519, see signing.ts) and carries `expiresAt`. */
  readonly signedCommand?: boolean;
  /** Normally published to a request's `replyTo` routing key rather than under routingTemplate. */
  readonly sentAsReply?: boolean;
  /** The conductor keeps it in the ledger's event log: replayable (state.query kind events) and resumable by its id. */
  readonly inEventLog?: boolean;
}

export function defineMessage<const TType extends string, TPayload extends z.ZodType>(
  spec: MessageSpec<TType, TPayload>,
): MessageSpec<TType, TPayload> {
  return spec;
}
