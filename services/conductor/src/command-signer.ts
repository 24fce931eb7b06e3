// Builds the signed agent.command messages the conductor sends, one host at a time.
//
// The command id is derived from (deployment, host, action): the same command built twice, say by a
// conductor that resumes a rollout after a restart, carries the same id, and the agent, which runs a
// command id at most once, refuses the repeat instead of deploying the host a second time.
import { createHash, createPrivateKey, KeyObject, randomUUID } from 'node:crypto';
import { createMessage, signMessage, SigningKeyError, type Message, type Signature, type SigningKey, type Source } from '@deploybus/protocol';

export type SignedCommand = Message<'agent.command'> & { signature: Signature };

export interface CommandSignerOptions {
  /** Who sends: the conductor's service and host. */
  readonly source: Source;
  /** The bus's reply address, where agents send their agent.reply. */
  readonly replyTo: string;
  /** Ed25519 private key (PEM PKCS#8 or KeyObject). */
  readonly privateKey: SigningKey;
  /** Names the public key agents verify with. */
  readonly keyId: string;
  /** How long a command may wait before an agent must no longer act on it. */
  readonly ttlMs: number;
  readonly clock?: () => number;
  /** Envelope ids (default random UUIDs). */
  readonly newMessageId?: () => string;
}

export interface DeployCommandInput {
  readonly deploymentId: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  /** The commit `ref` was resolved to: agents deploy exactly it. */
  readonly sha?: string | undefined;
  /** Expires sooner than the signer's ttlMs: the rollout's host timeout, after which nobody waits for it. */
  readonly ttlMs?: number | undefined;
}

export interface RollbackCommandInput {
  readonly deploymentId: string;
  readonly app: string;
  readonly env: string;
  /** Release to return to; the agent's previous one when absent. */
  readonly release?: string | undefined;
  /** As DeployCommandInput.ttlMs. */
  readonly ttlMs?: number | undefined;
}

/** What the rollout runner needs to build commands; CommandSigner is the real one. */
export interface CommandFactory {
  deploy(host: string, input: DeployCommandInput): SignedCommand;
  rollback(host: string, input: RollbackCommandInput): SignedCommand;
}

export class CommandSigner implements CommandFactory {
  readonly #options: CommandSignerOptions;
  readonly #key: KeyObject;
  readonly #clock: () => number;
  readonly #newMessageId: () => string;

  constructor(options: CommandSignerOptions) {
    if (!Number.isInteger(options.ttlMs) || options.ttlMs < 1) throw new RangeError(`command ttlMs must be a whole number of milliseconds from 1, got ${options.ttlMs}`);
    this.#key = privateKeyOf(options.privateKey, options.keyId);
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#newMessageId = options.newMessageId ?? randomUUID;
  }

  deploy(host: string, input: DeployCommandInput): SignedCommand {
    const { deploymentId, app, env, ref, sha } = input;
    const payload = { action: 'deploy' as const, commandId: commandIdFor(deploymentId, host, 'deploy'), host, deploymentId, app, env, ref };
    return this.#build(sha === undefined ? payload : { ...payload, sha }, input.ttlMs);
  }

  rollback(host: string, input: RollbackCommandInput): SignedCommand {
    const { deploymentId, app, env, release } = input;
    const payload = { action: 'rollback' as const, commandId: commandIdFor(deploymentId, host, 'rollback'), host, deploymentId, app, env };
    return this.#build(release === undefined ? payload : { ...payload, release }, input.ttlMs);
  }

  #build(payload: Message<'agent.command'>['payload'], ttlMs: number | undefined): SignedCommand {
    const message = createMessage('agent.command', payload, {
      source: this.#options.source,
      replyTo: this.#options.replyTo,
      ttlMs: ttlMs === undefined ? this.#options.ttlMs : Math.max(1, Math.min(this.#options.ttlMs, Math.floor(ttlMs))),
      id: this.#newMessageId(),
      now: new Date(this.#clock()),
    });
    return signMessage(message, { privateKey: this.#key, keyId: this.#options.keyId });
  }
}

/** The command id of one action on one host in one deployment; stable, at most 35 characters. */
export function commandIdFor(deploymentId: string, host: string, action: 'deploy' | 'rollback'): string {
  const digest = createHash('sha256').update(`${deploymentId}\n${host.toLowerCase()}\n${action}`).digest('hex');
  return `c-${digest.slice(0, 32)}`;
}

function privateKeyOf(key: SigningKey, keyId: string): KeyObject {
  let object: KeyObject;
  try {
    object = key instanceof KeyObject ? key : createPrivateKey(key);
  } catch (cause) {
    throw new SigningKeyError(`command signing key ${JSON.stringify(keyId)} is not a readable PEM private key`, { keyId, cause });
  }
  if (object.type !== 'private' || object.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`command signing key ${JSON.stringify(keyId)} must be an Ed25519 private key`, { keyId });
  }
  return object;
}
