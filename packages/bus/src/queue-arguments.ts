// The arguments each kind of queue is declared with. Both wire transports declare the same queues,
// and RabbitMQ refuses a redeclaration with different arguments, so they are written down once here.
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_ROUTING_KEY } from '@deploybus/protocol';
import type { QueueKind } from './wire.js';

/** A private queue outlives its client by this long, so a short disconnect loses nothing. */
export const PRIVATE_QUEUE_EXPIRES_MS = 60_000;

export function queueArguments(kind: QueueKind): Readonly<Record<string, string | number>> {
  const deadLetter = { 'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE, 'x-dead-letter-routing-key': DEAD_LETTER_ROUTING_KEY };
  switch (kind) {
    case 'shared':
      return { 'x-queue-type': 'quorum', ...deadLetter };
    case 'private':
      return { 'x-queue-type': 'classic', 'x-expires': PRIVATE_QUEUE_EXPIRES_MS, ...deadLetter };
    case 'dead-letter':
      return { 'x-queue-type': 'classic' };
  }
}
