// Ed25519 signatures over a canonical JSON form of a message, reproducible in any language.
//
// A receiver verifies the message object exactly as it decoded it from the wire, before validation:
// validation drops unknown fields, and a field the receiver does not know is still signed.
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import type { Signature } from './envelope.js';
import { SigningKeyError } from './errors.js';

/** A key as a node KeyObject or PEM text (SPKI for public keys, PKCS#8 for private ones). */
export type SigningKey = KeyObject | string;

export interface SignOptions {
  readonly privateKey: SigningKey;
  /** Names the public key receivers verify with; 1 to 128 characters. */
  readonly keyId: string;
}

export type VerifyFailureCode = 'UNSIGNED' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE';

export type VerifyResult = { ok: true; keyId: string } | { ok: false; code: VerifyFailureCode; reason: string };

const SIGNATURE_VALUE = /^[A-Za-z0-9+/]{86}==$/; // 64 bytes in padded standard base64, and nothing else

/**
 * JSON with object keys sorted (by UTF-16 code units, recursively), no whitespace, and strings and
 * numbers written exactly as JSON.stringify writes them. Members JSON.stringify would leave out
 * (undefined, functions) are left out here too, so a value and its JSON round trip canonicalize alike.
 */
export function canonicalJson(value: unknown): string {
  const text = write(value, '', new Set(), undefined);
  if (text === undefined) throw new TypeError('canonicalJson: the value has no JSON form');
  return text;
}

/** The exact text an Ed25519 signature covers: the canonical JSON of the whole message minus `signature`. */
export function signingInput(message: object): string {
  const text = write(message, '', new Set(), 'signature');
  if (text === undefined) throw new TypeError('signingInput: the message has no JSON form');
  return text;
}

/** Returns a copy of the message carrying an Ed25519 signature (any earlier signature is replaced). */
export function signMessage<M extends object>(message: M, options: SignOptions): M & { signature: Signature } {
  if (options.keyId.length < 1 || options.keyId.length > 128) {
    throw new SigningKeyError(`signing key id must be 1 to 128 characters, got ${options.keyId.length}`, { keyId: options.keyId });
  }
  const key = asEd25519Key(options.privateKey, 'private', options.keyId);
  const value = sign(null, Buffer.from(signingInput(message), 'utf8'), key).toString('base64');
  const { signature: _old, ...rest } = message as M & { signature?: unknown };
  return { ...rest, signature: { alg: 'ed25519', keyId: options.keyId, value } } as M & { signature: Signature };
}

/**
 * Verifies the signature of a message as decoded from the wire (not the validated copy). Never throws
 * for anything the message holds; throws SigningKeyError when a trusted key itself is unusable.
 */
export function verifyMessage(raw: unknown, trustedKeys: ReadonlyMap<string, SigningKey>): VerifyResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return failure('UNSIGNED', 'message is not a JSON object');
  const signature: unknown = Object.hasOwn(raw, 'signature') ? (raw as Record<string, unknown>)['signature'] : undefined;
  if (signature === undefined) return failure('UNSIGNED', 'message carries no signature');
  if (typeof signature !== 'object' || signature === null) return failure('BAD_SIGNATURE', 'signature is not an object');
  const { alg, keyId, value } = signature as Record<string, unknown>;
  if (alg !== 'ed25519') return failure('BAD_SIGNATURE', `signature algorithm ${JSON.stringify(alg)} is not "ed25519"`);
  if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 128) return failure('BAD_SIGNATURE', 'signature keyId is not a string of 1 to 128 characters');
  const trusted = trustedKeys.get(keyId);
  if (trusted === undefined) return failure('UNKNOWN_KEY', `no trusted key is named ${JSON.stringify(keyId)}`);
  if (typeof value !== 'string' || !SIGNATURE_VALUE.test(value)) return failure('BAD_SIGNATURE', 'signature value is not 64 bytes of base64');
  const publicKey = asEd25519Key(trusted, 'public', keyId);
  let input: Buffer;
  try {
    input = Buffer.from(signingInput(raw), 'utf8');
  } catch {
    return failure('BAD_SIGNATURE', 'message has no canonical JSON form');
  }
  if (!verify(null, input, publicKey, Buffer.from(value, 'base64'))) {
    return failure('BAD_SIGNATURE', `signature does not match the message (altered after signing, or not signed with key ${JSON.stringify(keyId)})`);
  }
  return { ok: true, keyId };
}

/** A new Ed25519 key pair as PEM text: SPKI public key, unencrypted PKCS#8 private key. */
export function generateSigningKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function asEd25519Key(key: SigningKey, use: 'public' | 'private', keyId: string): KeyObject {
  let object: KeyObject;
  try {
    if (use === 'private') object = key instanceof KeyObject ? key : createPrivateKey(key);
    // A private key is accepted where a public one is wanted: the public half is derived from it.
    else object = key instanceof KeyObject && key.type === 'public' ? key : createPublicKey(key);
  } catch (cause) {
    throw new SigningKeyError(`${use} key ${JSON.stringify(keyId)} is not a readable PEM key`, { keyId, cause });
  }
  if (object.type !== use || object.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`${use} key ${JSON.stringify(keyId)} must be an Ed25519 ${use} key (got ${object.asymmetricKeyType ?? object.type} ${object.type})`, { keyId });
  }
  return object;
}

function failure(code: VerifyFailureCode, reason: string): VerifyResult {
  return { ok: false, code, reason };
}

function write(value: unknown, key: string, open: Set<object>, omitKey: string | undefined): string | undefined {
  if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: (key: string) => unknown }).toJSON(key);
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt has no JSON form');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (open.has(object)) throw new TypeError('canonicalJson: the value is circular');
  open.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item: unknown, index) => write(item, String(index), open, undefined) ?? 'null').join(',')}]`;
    }
    const record = object as Record<string, unknown>;
    const members: string[] = [];
    for (const name of Object.keys(record).sort()) {
      if (name === omitKey) continue;
      const text = write(record[name], name, open, undefined);
      if (text !== undefined) members.push(`${JSON.stringify(name)}:${text}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    open.delete(object);
  }
}
