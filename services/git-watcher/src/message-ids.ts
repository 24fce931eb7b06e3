// Message ids derived from what an event is, not drawn at random: the same event published twice (a
// webhook resent, a poll repeated after a crash) carries the same id, and consumers, which drop an id
// they have handled, act on it once.
import { createHash } from 'node:crypto';

/** A UUID-shaped id from the SHA-256 of `key`. */
export function stableMessageId(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
