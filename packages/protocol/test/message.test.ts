// Whole messages: every catalog example round-trips; bad and hostile bodies are refused, naming the
// field, and never make parseMessage throw.
import { describe, expect, it } from 'vitest';
import {
  createMessage,
  decodeBody,
  encodeMessage,
  expirationMsOf,
  generateSigningKeyPair,
  isExpired,
  MAX_BODY_BYTES,
  messageSpecs,
  parseMessage,
  ProtocolError,
  signMessage,
  validateMessage,
  verifyMessage,
  type CreateOptions,
  type Message,
  type MessageSpec,
  type MessageType,
  type PayloadInputOf,
  type ProtocolErrorCode,
} from '../src/index.js';

const options: CreateOptions = { source: { service: 'test', host: 'localhost' }, id: 'm-00000001', now: new Date('2026-11-22T10:00:00.000Z') };

function build(spec: MessageSpec, extra: Partial<CreateOptions> = {}): Message {
  return createMessage(spec.type as MessageType, spec.example as PayloadInputOf<MessageType>, { ...options, ...extra });
}

function deployRequest(): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(createMessage('deploy.requested', { app: 'shop', env: 'production', ref: 'v1.4.1', requestedBy: 'ada' }, options)),
  ) as Record<string, unknown>;
}

function refused(body: string | Uint8Array, code: ProtocolErrorCode, field: string): ProtocolError {
  const result = parseMessage(body);
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  expect(result.error).toBeInstanceOf(ProtocolError);
  expect({ code: result.error.code, field: result.error.field }).toEqual({ code, field });
  return result.error;
}

/** A small seeded generator, so a failing mutation can be replayed. */
function random(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}

describe('catalog examples', () => {
  it.each(messageSpecs.map((spec) => [spec.type, spec] as const))('%s: example is valid and round-trips', (_type, spec) => {
    expect(spec.payload.safeParse(spec.example).success).toBe(true);
    const message = build(spec, { replyTo: 'reply.test-1234', correlationId: 'c-1', ttlMs: 5000 });
    const parsed = parseMessage(encodeMessage(message));
    expect(parsed).toEqual({ ok: true, value: message });
    // As a string, and as a Uint8Array view into a larger buffer.
    const padded = Buffer.concat([Buffer.from('xx'), encodeMessage(message)]).subarray(2);
    expect(parseMessage(padded)).toEqual(parsed);
    expect(parseMessage(encodeMessage(message).toString('utf8'))).toEqual(parsed);
  });

  it('applies payload defaults', () => {
    const message = createMessage('deploy.requested', { app: 'shop', env: 'production', ref: 'v1.4.1', requestedBy: 'ada' }, options);
    expect(message.payload).toMatchObject({ force: false, targets: {}, rollout: { canary: 0, batchSize: 1, rollbackOnFailure: true } });
  });

  it('createMessage throws a ProtocolError naming the field at the sender', () => {
    expect(() => createMessage('deploy.requested', { app: 'shop', env: 'production', ref: '-x', requestedBy: 'ada' }, options)).toThrow(
      expect.objectContaining({ code: 'INVALID_PAYLOAD', field: 'payload.ref' }),
    );
  });

  it('createMessage checks the envelope fields the sender chooses, and what it builds passes the receivers\' check', () => {
    const payload = { app: 'shop', env: 'production', ref: 'v1.4.1', requestedBy: 'ada' } as const;
    expect(() => createMessage('deploy.requested', payload, { source: { service: 'cli', host: 'bad host!' } })).toThrow(expect.objectContaining({ code: 'INVALID_ENVELOPE', field: 'source.host' }));
    expect(() => createMessage('deploy.requested', payload, { ...options, correlationId: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ENVELOPE', field: 'correlationId' }));
    expect(() => createMessage('deploy.requested', payload, { ...options, replyTo: 'elsewhere' })).toThrow(expect.objectContaining({ code: 'INVALID_ENVELOPE', field: 'replyTo' }));
    expect(() => createMessage('deploy.requested', payload, { ...options, id: 'short' })).toThrow(expect.objectContaining({ code: 'INVALID_ENVELOPE', field: 'id' }));
    // A frozen source is checked once; an unfrozen one every time, so changing it afterwards is caught.
    const frozen = Object.freeze({ service: 'cli', host: 'laptop' });
    expect(createMessage('deploy.requested', payload, { source: frozen }).source).toEqual(frozen);
    const mutable = { service: 'cli', host: 'laptop' };
    createMessage('deploy.requested', payload, { source: mutable });
    mutable.host = 'not a host';
    expect(() => createMessage('deploy.requested', payload, { source: mutable })).toThrow(expect.objectContaining({ field: 'source.host' }));
    const built = createMessage('deploy.requested', payload, { ...options, correlationId: 'c-12345678', replyTo: 'reply.abc', ttlMs: 5000 });
    expect(validateMessage(JSON.parse(JSON.stringify(built)))).toEqual({ ok: true, value: built });
  });

  it('ignores unknown fields, as a newer minor version may add them', () => {
    const raw = { ...deployRequest(), addedLater: 1, payload: { ...(deployRequest()['payload'] as object), alsoNew: 'x' } };
    const result = validateMessage(raw);
    expect(result.ok).toBe(true);
    expect(result.ok && 'addedLater' in result.value).toBe(false);
  });
});

describe('refusals name the field', () => {
  it('another major version', () => {
    refused(JSON.stringify({ ...deployRequest(), v: 2 }), 'UNSUPPORTED_VERSION', 'v');
    refused(JSON.stringify({ ...deployRequest(), v: '1' }), 'INVALID_ENVELOPE', 'v');
  });

  it('a missing id', () => {
    const { id: _id, ...rest } = deployRequest();
    refused(JSON.stringify(rest), 'INVALID_ENVELOPE', 'id');
  });

  it('a hostile host name', () => {
    const error = refused(JSON.stringify({ ...deployRequest(), source: { service: 'web', host: '$(x)' } }), 'INVALID_ENVELOPE', 'source.host');
    expect(error.message).toContain('source.host');
  });

  it('an unknown type', () => {
    const error = refused(JSON.stringify({ ...deployRequest(), type: 'deploy.exploded' }), 'UNKNOWN_TYPE', 'type');
    expect(error.messageType).toBe('deploy.exploded');
  });

  it('a payload field of the wrong type', () => {
    const raw = deployRequest();
    const error = refused(JSON.stringify({ ...raw, payload: { ...(raw['payload'] as object), force: 'yes' } }), 'INVALID_PAYLOAD', 'payload.force');
    expect(error.message).toMatch(/^deploy\.requested payload\.force: /);
  });

  it('a bad field deep in a payload', () => {
    const raw = deployRequest();
    refused(JSON.stringify({ ...raw, payload: { ...(raw['payload'] as object), rollout: { batchSize: '250%' } } }), 'INVALID_PAYLOAD', 'payload.rollout.batchSize');
    refused(JSON.stringify({ ...raw, payload: { ...(raw['payload'] as object), targets: { hosts: ['ok', 'b a d'] } } }), 'INVALID_PAYLOAD', 'payload.targets.hosts.1');
  });

  it.each(['hosts', 'patterns', 'roles'])('an empty targets.%s (a script\'s empty host list must not mean every host)', (part) => {
    const raw = deployRequest();
    refused(JSON.stringify({ ...raw, payload: { ...(raw['payload'] as object), targets: { [part]: [] } } }), 'INVALID_PAYLOAD', `payload.targets.${part}`);
  });

  it.each(['[]', '"x"', 'null', '42', 'true'])('a JSON body that is not an object: %s', (body) => {
    refused(body, 'INVALID_ENVELOPE', '');
  });

  it.each(['', '{', '{"v":1,}', '\u0000', 'NaN'])('a body that is not JSON: %j', (body) => {
    refused(body, 'MALFORMED_JSON', '');
  });

  it('a body over 1 MiB, before parsing it', () => {
    const raw = deployRequest();
    const big = JSON.stringify({ ...raw, padding: 'x'.repeat(MAX_BODY_BYTES) });
    refused(big, 'BODY_TOO_LARGE', '');
    refused(Buffer.from(big), 'BODY_TOO_LARGE', '');
    // Counted in bytes: 600k two-byte characters are over the limit.
    refused(JSON.stringify({ ...raw, padding: 'é'.repeat(600_000) }), 'BODY_TOO_LARGE', '');
  });
});

describe('hostile bodies', () => {
  it('deeply nested JSON does not crash parsing or verification', () => {
    const depth = 200_000;
    refused('['.repeat(depth) + ']'.repeat(depth), 'INVALID_ENVELOPE', '');
    const raw = deployRequest();
    const nested = '{"a":'.repeat(depth / 4) + '1' + '}'.repeat(depth / 4);
    const body = JSON.stringify({ ...raw, extra: 0 }).replace('"extra":0', `"extra":${nested}`);
    expect(parseMessage(body).ok).toBe(true);
    const decoded = decodeBody(body);
    expect(decoded.ok).toBe(true);
    const { publicKey } = generateSigningKeyPair();
    const withSignature = { ...(decoded.ok ? (decoded.value as object) : {}), signature: { alg: 'ed25519', keyId: 'k', value: `${'A'.repeat(86)}==` } };
    expect(verifyMessage(withSignature, new Map([['k', publicKey]]))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('__proto__ and constructor keys pollute nothing', () => {
    const raw = deployRequest();
    const payload = JSON.stringify(raw['payload']).slice(0, -1) + ',"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';
    const body = JSON.stringify({ ...raw, payload: 0 }).replace('"payload":0', `"payload":${payload},"__proto__":{"isAdmin":true}`);
    const result = parseMessage(body);
    expect(result.ok).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
    if (result.ok) {
      expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
      expect((result.value as unknown as Record<string, unknown>)['isAdmin']).toBeUndefined();
    }
    const reply = createMessage('agent.reply', { commandId: 'c-12345678', host: 'web1', status: 'succeeded', result: { ok: 1 } }, options);
    const replyBody = encodeMessage(reply).toString().replace('"result":{"ok":1}', '"result":{"__proto__":{"polluted":true},"ok":1}');
    expect(parseMessage(replyBody).ok).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('2,000 random mutations of valid messages never make parseMessage throw', () => {
    const next = random(20261122);
    const bodies = messageSpecs.map((spec) => encodeMessage(build(spec, { replyTo: 'reply.x-1', ttlMs: 1000 })).toString());
    const odd: unknown[] = [null, true, -1, 1e308, '', 'x'.repeat(5000), [], {}, [[[]]], '$(touch /tmp/x)', '../../etc', '\u0000', 'refs/heads/.x'];
    const pick = <T>(items: readonly T[]): T => items[next(items.length)] as T;

    function mutateValue(value: unknown, depth: number): unknown {
      if (depth > 0 && typeof value === 'object' && value !== null) {
        const record = (Array.isArray(value) ? [...value] : { ...value }) as Record<string, unknown>;
        const keys = Object.keys(record);
        const action = next(4);
        if (keys.length > 0 && action === 0) delete record[pick(keys)];
        else if (keys.length > 0 && action === 1) {
          const key = pick(keys);
          record[key] = mutateValue(record[key], depth - 1);
        } else if (action === 2) record[pick(['__proto__', 'constructor', 'v', 'type', 'payload', 'extra', '0'])] = pick(odd);
        else if (keys.length > 0) record[pick(keys)] = pick(odd);
        return record;
      }
      return pick(odd);
    }

    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const base = pick(bodies);
      let body: string;
      switch (next(3)) {
        case 0: // structural change to the decoded object
          body = JSON.stringify(mutateValue(JSON.parse(base), 1 + next(4)));
          break;
        case 1: {
          // a flipped character
          const at = next(base.length);
          body = base.slice(0, at) + String.fromCharCode(next(128)) + base.slice(at + 1);
          break;
        }
        default: // truncated
          body = base.slice(0, next(base.length));
      }
      let result: ReturnType<typeof parseMessage> | undefined;
      expect(() => {
        result = parseMessage(body);
      }, body).not.toThrow();
      if (result?.ok === true) accepted++;
      else expect(result?.error).toBeInstanceOf(ProtocolError);
    }
    // Some mutations leave a valid message (an unknown field added); most must be refused.
    expect(accepted).toBeLessThan(2000);
  });
});

describe('expiry', () => {
  it('isExpired and expirationMsOf follow expiresAt', () => {
    const message = build(messageSpecs[0], { ttlMs: 30_000 });
    expect(isExpired(message, new Date('2026-11-22T10:00:29.999Z'))).toBe(false);
    expect(isExpired(message, new Date('2026-11-22T10:00:30.000Z'))).toBe(true);
    expect(expirationMsOf(message, new Date('2026-11-22T10:00:10.000Z'))).toBe(20_000);
    expect(expirationMsOf(message, new Date('2026-11-22T11:00:00.000Z'))).toBe(1);
    expect(expirationMsOf(build(messageSpecs[0]))).toBeUndefined();
  });

  it('a signed command round-trips with its signature and expiry', () => {
    const keys = generateSigningKeyPair();
    const spec = messageSpecs.find((s) => s.signedCommand === true);
    if (spec === undefined) throw new Error('no signed command in the catalog');
    const signed = signMessage(build(spec, { ttlMs: 60_000 }), { privateKey: keys.privateKey, keyId: 'k1' });
    const parsed = parseMessage(encodeMessage(signed));
    expect(parsed).toEqual({ ok: true, value: signed });
  });
});
