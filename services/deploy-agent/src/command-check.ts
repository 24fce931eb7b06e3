// Whether this agent may act on an agent.command, decided without I/O: signed by a trusted key,
// not expired, not too far in the future, not taken before, for this host, for a known app in its
// environment, with a valid ref. Every refusal names its reason; nothing is run for a refused command.
//
// The signature is verified over the message as the bus handed it over, i.e. after validation. That
// is sound: the signature covers the canonical JSON of exactly the fields verified, and the agent acts
// on exactly those fields, so an accepted command carries nothing the key holder did not sign.
// Validation only drops fields the protocol does not know (or would add defaults, none of which
// agent.command has); a sender who signs such extra fields gets a refusal (BAD_SIGNATURE), never a
// command run on unsigned data. deploybus senders build commands with the protocol's schemas, so
// their signed form has no unknown fields.
import { assertRef, GitInputError } from '@deploybus/git';
import { verifyMessage, type Message, type SigningKey } from '@deploybus/protocol';
import type { AppConfig } from './config.js';

export type AgentCommand = Extract<Message, { type: 'agent.command' }>;

export type RefusalCode = 'UNSIGNED' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE' | 'NO_EXPIRY' | 'EXPIRED' | 'EXPIRY_TOO_FAR' | 'REPLAYED' | 'WRONG_HOST' | 'UNKNOWN_APP' | 'WRONG_ENV' | 'BAD_REF' | 'UNKNOWN_ACTION' | 'BAD_PARAMS' | 'BAD_RELEASE' | 'UNKNOWN_REF';

export type CommandCheck = { readonly ok: true; readonly keyId: string; readonly expiresAtMs: number } | { readonly ok: false; readonly code: RefusalCode; readonly reason: string };

export interface CheckContext {
  readonly host: string;
  readonly trustedKeys: ReadonlyMap<string, SigningKey>;
  readonly apps: ReadonlyMap<string, AppConfig>;
  readonly commandMaxAgeMs: number;
  readonly maxClockSkewMs: number;
  readonly alreadyExecuted: (commandId: string) => boolean;
  readonly now: number;
}

export function checkCommand(message: AgentCommand, context: CheckContext): CommandCheck {
  const verified = verifyMessage(message, context.trustedKeys);
  if (!verified.ok) return refuse(verified.code, `signature refused: ${verified.reason}`);
  if (message.expiresAt === undefined) return refuse('NO_EXPIRY', 'command carries no expiresAt');
  const expiresAtMs = Date.parse(message.expiresAt);
  const clock = new Date(context.now).toISOString();
  if (!(expiresAtMs > context.now)) return refuse('EXPIRED', `command expired at ${message.expiresAt} (this agent's clock says ${clock})`);
  if (expiresAtMs - context.now > context.commandMaxAgeMs + context.maxClockSkewMs) {
    return refuse(
      'EXPIRY_TOO_FAR',
      `command expiresAt ${message.expiresAt} is more than commandMaxAgeMs (${context.commandMaxAgeMs} ms) + maxClockSkewMs (${context.maxClockSkewMs} ms) ahead of this agent's clock (${clock}): the sender's commands.ttlMs is longer than this agent accepts, or the two clocks differ by more than maxClockSkewMs`,
    );
  }
  const payload = message.payload;
  if (context.alreadyExecuted(payload.commandId)) return refuse('REPLAYED', `command ${payload.commandId} was already taken by this agent (replay)`);
  if (payload.host !== context.host) return refuse('WRONG_HOST', `command is for host ${payload.host}, this agent is ${context.host}`);
  if (payload.action === 'state') return { ok: true, keyId: verified.keyId, expiresAtMs };
  const app = context.apps.get(payload.app);
  if (app === undefined) return refuse('UNKNOWN_APP', `app ${JSON.stringify(payload.app)} is not configured on this agent`);
  if (payload.action !== 'run' && payload.env !== app.env) return refuse('WRONG_ENV', `app ${payload.app} runs in environment ${app.env} here, not ${payload.env}`);
  if (payload.action === 'deploy') {
    try {
      assertRef(payload.ref);
    } catch (error) {
      if (error instanceof GitInputError) return refuse('BAD_REF', error.message);
      throw error;
    }
  }
  return { ok: true, keyId: verified.keyId, expiresAtMs };
}

function refuse(code: RefusalCode, reason: string): CommandCheck {
  return { ok: false, code, reason };
}
