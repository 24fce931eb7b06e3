// Signed agent commands: the fields agents need, an expiry, the reply address, and a signature agents verify.
import { generateKeyPairSync } from 'node:crypto';
import { generateSigningKeyPair, validateMessage, verifyMessage, SigningKeyError } from '@deploybus/protocol';
import { describe, expect, it } from 'vitest';
import { CommandSigner, commandIdFor } from '../src/index.js';

const keys = generateSigningKeyPair();
const NOW = Date.parse('2026-11-22T10:00:00.000Z');

function signer(overrides: Partial<ConstructorParameters<typeof CommandSigner>[0]> = {}) {
  let n = 0;
  return new CommandSigner({
    source: { service: 'conductor', host: 'ops1' },
    replyTo: 'reply.conductor-ops1-1',
    privateKey: keys.privateKey,
    keyId: 'conductor-2026',
    ttlMs: 60_000,
    clock: () => NOW,
    newMessageId: () => `m-0000000${++n}`,
    ...overrides,
  });
}

const trusted = new Map([['conductor-2026', keys.publicKey]]);

describe('CommandSigner', () => {
  it('builds a deploy command for one host with expiry and reply address, signed so agents verify it', () => {
    const command = signer().deploy('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1' });
    expect(command.payload).toEqual({ action: 'deploy', commandId: commandIdFor('d-7f3c2a10', 'web1', 'deploy'), host: 'web1', deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1' });
    expect(command.replyTo).toBe('reply.conductor-ops1-1');
    expect(command.time).toBe('2026-11-22T10:00:00.000Z');
    expect(command.expiresAt).toBe('2026-11-22T10:01:00.000Z');
    expect(command.signature.keyId).toBe('conductor-2026');
    // As an agent sees it: off the wire, verified, then validated.
    const wire: unknown = JSON.parse(JSON.stringify(command));
    expect(verifyMessage(wire, trusted)).toEqual({ ok: true, keyId: 'conductor-2026' });
    expect(validateMessage(wire).ok).toBe(true);
  });

  it('carries the commit the conductor resolved, under the signature', () => {
    const sha = '9fceb02d0ae598e95dc970b74767f19372d61af8';
    const command = signer().deploy('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1', sha });
    expect(command.payload).toMatchObject({ action: 'deploy', ref: 'v1.4.1', sha });
    const wire = JSON.parse(JSON.stringify(command)) as { payload: { sha: string } };
    expect(verifyMessage(wire, trusted).ok).toBe(true);
    wire.payload.sha = 'f'.repeat(40); // another commit under the same signature
    expect(verifyMessage(wire, trusted)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('expires with the rollout\'s host timeout when that is sooner than ttlMs, never later', () => {
    const s = signer();
    const input = { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1' };
    expect(s.deploy('web1', { ...input, ttlMs: 15_000 }).expiresAt).toBe('2026-11-22T10:00:15.000Z');
    expect(s.deploy('web1', { ...input, ttlMs: 3_600_000 }).expiresAt).toBe('2026-11-22T10:01:00.000Z');
    expect(s.rollback('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ttlMs: 5_000 }).expiresAt).toBe('2026-11-22T10:00:05.000Z');
  });

  it('builds rollback commands with and without a named release', () => {
    const s = signer();
    const named = s.rollback('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', release: '20261122100012-v1.4.0' });
    expect(named.payload).toMatchObject({ action: 'rollback', release: '20261122100012-v1.4.0', commandId: commandIdFor('d-7f3c2a10', 'web1', 'rollback') });
    const previous = s.rollback('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production' });
    expect(Object.hasOwn(previous.payload, 'release')).toBe(false);
    expect(verifyMessage(JSON.parse(JSON.stringify(previous)), trusted).ok).toBe(true);
  });

  it('gives each host and action its own stable command id, so a resent command is a replay to the agent', () => {
    const s = signer();
    const a = s.deploy('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1' });
    const again = s.deploy('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1' });
    expect(again.payload.commandId).toBe(a.payload.commandId);
    expect(again.id).not.toBe(a.id);
    const ids = new Set([
      a.payload.commandId,
      s.deploy('web2', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1' }).payload.commandId,
      s.rollback('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production' }).payload.commandId,
      s.deploy('web1', { deploymentId: 'd-other-1', app: 'shop', env: 'production', ref: 'v1' }).payload.commandId,
    ]);
    expect(ids.size).toBe(4);
  });

  it('makes a command that fails verification once altered or under another key', () => {
    const command = signer().deploy('web1', { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1' });
    const altered = { ...JSON.parse(JSON.stringify(command)), payload: { ...command.payload, host: 'web2' } };
    expect(verifyMessage(altered, trusted)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    const other = generateSigningKeyPair();
    expect(verifyMessage(JSON.parse(JSON.stringify(command)), new Map([['conductor-2026', other.publicKey]]))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a key that is not an Ed25519 private key at construction, naming the key id', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    for (const privateKey of ['not a key', rsa.privateKey, keys.publicKey]) {
      expect(() => signer({ privateKey })).toThrow(SigningKeyError);
      expect(() => signer({ privateKey })).toThrow('conductor-2026');
    }
    expect(() => signer({ ttlMs: 0 })).toThrow(RangeError);
  });
});
