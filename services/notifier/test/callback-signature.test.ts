// The callback signature scheme as a receiver uses it: HMAC-SHA256 over "timestamp.body", v1=hex.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signCallback, verifyCallback } from '../src/index.js';

describe('callback signatures', () => {
  const secret = 'whsec_0123456789abcdef';
  const body = '{"id":"m-1","type":"deploy.succeeded"}';
  const now = 1_800_000_000;

  it('is HMAC-SHA256(secret, "<timestamp>.<body>") in hex, as a receiver in any language computes it', () => {
    const expected = createHmac('sha256', secret).update(`${now}.${body}`).digest('hex');
    expect(signCallback(secret, now, body)).toBe(`v1=${expected}`);
  });

  it('verifies the right body, secret and a fresh timestamp; refuses everything else', () => {
    const signature = signCallback(secret, now, body);
    expect(verifyCallback(secret, body, String(now), signature, { now })).toBe(true);
    expect(verifyCallback(secret, body, String(now), `v1=bogus, ${signature}`, { now })).toBe(true);
    expect(verifyCallback(secret, `${body} `, String(now), signature, { now })).toBe(false);
    expect(verifyCallback('another-secret-value', body, String(now), signature, { now })).toBe(false);
    expect(verifyCallback(secret, body, String(now + 1), signature, { now })).toBe(false);
    expect(verifyCallback(secret, body, String(now), signature, { now: now + 301 })).toBe(false);
    expect(verifyCallback(secret, body, String(now), signature, { now: now + 299 })).toBe(true);
    expect(verifyCallback(secret, body, undefined, signature, { now })).toBe(false);
    expect(verifyCallback(secret, body, 'soon', signature, { now })).toBe(false);
    expect(verifyCallback(secret, body, String(now), undefined, { now })).toBe(false);
  });
});
