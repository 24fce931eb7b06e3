// How a callback is signed, in the manner of Stripe's and Slack's webhooks, so a receiver can tell the
// notifier sent it and that it is fresh:
//   X-Deploybus-Timestamp: <unix seconds when this attempt was sent>
//   X-Deploybus-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
// A receiver recomputes the HMAC over the raw body bytes as received, compares in constant time, and
// refuses a timestamp further than its tolerance (5 minutes) from its clock, so a captured request
// cannot be replayed later. Retries are signed afresh; the event id (X-Deploybus-Event-Id) stays the
// same, so receivers deduplicate by it.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-deploybus-signature';
export const TIMESTAMP_HEADER = 'x-deploybus-timestamp';
export const EVENT_ID_HEADER = 'x-deploybus-event-id';
export const EVENT_TYPE_HEADER = 'x-deploybus-event-type';
export const EVENT_SEQ_HEADER = 'x-deploybus-event-seq';
export const SUBSCRIPTION_HEADER = 'x-deploybus-subscription';
export const SIGNATURE_SCHEME = 'v1';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signCallback(secret: string, timestamp: number, body: string): string {
  return `${SIGNATURE_SCHEME}=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

export interface VerifyOptions {
  readonly toleranceSeconds?: number;
  /** Unix seconds; default now. */
  readonly now?: number;
}

/** What a receiver does: true only for a valid signature over this body with a fresh timestamp. */
export function verifyCallback(secret: string, body: string, timestampHeader: string | undefined, signatureHeader: string | undefined, options: VerifyOptions = {}): boolean {
  if (timestampHeader === undefined || signatureHeader === undefined || !/^\d{1,12}$/.test(timestampHeader)) return false;
  const timestamp = Number(timestampHeader);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(signCallback(secret, timestamp, body));
  // Several signatures may be sent (comma-separated) while a secret is rotated; any valid one will do.
  return signatureHeader.split(',').some((candidate) => {
    const given = Buffer.from(candidate.trim());
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
