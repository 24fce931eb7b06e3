// Signing: canonical JSON, sign/verify round trip over the wire, and every way verification must fail.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  createMessage,
  decodeBody,
  encodeMessage,
  generateSigningKeyPair,
  signingInput,
  signMessage,
  SigningKeyError,
  validateMessage,
  verifyMessage,
} from '../src/index.js';

const keys = generateSigningKeyPair();
const trusted = new Map([['conductor-1', keys.publicKey]]);

function command() {
  return createMessage(
    'agent.command',
    { action: 'deploy', commandId: 'c-0b1e9d44', host: 'web1', deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1' },
    { source: { service: 'conductor', host: 'ops1' }, replyTo: 'reply.r-1234abcd', ttlMs: 60_000, now: new Date('2026-11-22T10:00:00.000Z'), id: 'm-00000001' },
  );
}

/** Decodes like a receiver does: the raw object, before validation. */
function received(body: Buffer): Record<string, unknown> {
  const decoded = decodeBody(body);
  if (!decoded.ok) throw decoded.error;
  return decoded.value as Record<string, unknown>;
}

function leafPaths(value: unknown, path: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [path];
  return Object.entries(value).flatMap(([key, child]) => leafPaths(child, [...path, key]));
}

function setAt(root: Record<string, unknown>, path: string[], next: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path[path.length - 1] ?? ''] = next;
}

function getAt(root: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], root);
}

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]));
}

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units at every depth and writes no whitespace', () => {
    const value = { b: 1, a: [true, null, 'x\n"é', { d: 0.5, c: -0 }], 10: {}, 9: 1e21, B: 'up' };
    expect(canonicalJson(value)).toBe('{"10":{},"9":1e+21,"B":"up","a":[true,null,"x\\n\\"é",{"c":0,"d":0.5}],"b":1}');
  });

  it('leaves out what JSON.stringify leaves out, and survives a JSON round trip unchanged', () => {
    const value = { keep: 1, gone: undefined, fn: () => 1, list: [undefined, Number.NaN], when: new Date('2026-11-22T10:00:00.000Z') };
    const text = canonicalJson(value);
    expect(text).toBe('{"keep":1,"list":[null,null],"when":"2026-11-22T10:00:00.000Z"}');
    expect(canonicalJson(JSON.parse(JSON.stringify(value)))).toBe(text);
  });

  it('keeps a "__proto__" key as data', () => {
    expect(canonicalJson(JSON.parse('{"z":1,"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1},"z":1}');
  });

  it('refuses circular values', () => {
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    expect(() => canonicalJson(loop)).toThrow(TypeError);
  });
});

describe('signMessage / verifyMessage', () => {
  it('round-trips through the wire, and validateMessage keeps the signature', () => {
    const signed = signMessage(command(), { privateKey: keys.privateKey, keyId: 'conductor-1' });
    expect(signed.signature).toMatchObject({ alg: 'ed25519', keyId: 'conductor-1' });
    const raw = received(encodeMessage(signed));
    expect(verifyMessage(raw, trusted)).toEqual({ ok: true, keyId: 'conductor-1' });
    const validated = validateMessage(raw);
    expect(validated.ok && validated.value.signature).toEqual(signed.signature);
  });

  it('signs everything but the signature itself', () => {
    const signed = signMessage(command(), { privateKey: createPrivateKey(keys.privateKey), keyId: 'conductor-1' });
    expect(signingInput(signed)).toBe(canonicalJson(command()));
  });

  it('refuses a change to any field as BAD_SIGNATURE', () => {
    const body = encodeMessage(signMessage(command(), { privateKey: keys.privateKey, keyId: 'conductor-1' }));
    const paths = leafPaths(received(body)).filter((path) => path[0] !== 'signature');
    expect(paths.length).toBeGreaterThan(12);
    for (const path of paths) {
      const raw = received(body);
      const old = getAt(raw, path);
      setAt(raw, path, typeof old === 'number' ? old + 1 : `${String(old)}x`);
      expect(verifyMessage(raw, trusted), path.join('.')).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    }
  });

  it('refuses an added field, even one validation would strip', () => {
    const raw = received(encodeMessage(signMessage(command(), { privateKey: keys.privateKey, keyId: 'conductor-1' })));
    raw['extra'] = 'smuggled';
    expect(verifyMessage(raw, trusted)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('does not depend on the order of keys as received', () => {
    const raw = received(encodeMessage(signMessage(command(), { privateKey: keys.privateKey, keyId: 'conductor-1' })));
    const reordered = reverseKeys(raw) as Record<string, unknown>;
    expect(Object.keys(reordered)[0]).not.toBe(Object.keys(raw)[0]);
    expect(verifyMessage(reordered, trusted).ok).toBe(true);
  });

  it('says UNSIGNED, UNKNOWN_KEY or BAD_SIGNATURE with a reason', () => {
    const signed = signMessage(command(), { privateKey: keys.privateKey, keyId: 'conductor-1' });
    const raw = received(encodeMessage(signed));
    expect(verifyMessage(received(encodeMessage(command())), trusted)).toMatchObject({ ok: false, code: 'UNSIGNED' });
    expect(verifyMessage('not an object', trusted)).toMatchObject({ ok: false, code: 'UNSIGNED' });
    expect(verifyMessage(raw, new Map([['someone-else', keys.publicKey]]))).toMatchObject({
      ok: false,
      code: 'UNKNOWN_KEY',
      reason: 'no trusted key is named "conductor-1"',
    });
    const otherKey = generateSigningKeyPair().publicKey;
    expect(verifyMessage(raw, new Map([['conductor-1', otherKey]]))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    for (const signature of ['x', null, { ...signed.signature, alg: 'rsa' }, { ...signed.signature, value: `${signed.signature.value}AAAA` }, { ...signed.signature, keyId: 7 }]) {
      expect(verifyMessage({ ...raw, signature }, trusted), JSON.stringify(signature)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    }
  });

  it('verifies with a private key given as the trusted key (its public half)', () => {
    const raw = received(encodeMessage(signMessage(command(), { privateKey: keys.privateKey, keyId: 'conductor-1' })));
    expect(verifyMessage(raw, new Map([['conductor-1', keys.privateKey]])).ok).toBe(true);
  });

  it('throws SigningKeyError for keys that are not Ed25519 or not PEM', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => signMessage(command(), { privateKey: rsa, keyId: 'k' })).toThrow(SigningKeyError);
    expect(() => signMessage(command(), { privateKey: 'not a key', keyId: 'k' })).toThrow(SigningKeyError);
    expect(() => signMessage(command(), { privateKey: keys.privateKey, keyId: '' })).toThrow(SigningKeyError);
    const raw = received(encodeMessage(signMessage(command(), { privateKey: keys.privateKey, keyId: 'conductor-1' })));
    expect(() => verifyMessage(raw, new Map([['conductor-1', 'garbage']]))).toThrow(SigningKeyError);
  });
});
