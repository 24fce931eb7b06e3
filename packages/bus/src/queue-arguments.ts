// The arguments each kind of queue is declared with. Both wire transports declare the same queues,
// and RabbitMQ refuses a redeclaration with different arguments; the values are the protocol's,
// the same ones docs/protocol.md gives foreign clients.
import {
  DEAD_LETTER_QUEUE_ARGUMENTS,
  PRIVATE_QUEUE_ARGUMENTS,
  REPLY_QUEUE_ARGUMENTS,
  WORK_QUEUE_ARGUMENTS,
  type QueueArguments,
} from '@deploybus/protocol';
import type { QueueKind } from './wire.js';

export function queueArguments(kind: QueueKind): QueueArguments {
  switch (kind) {
    case 'shared':
      return WORK_QUEUE_ARGUMENTS;
    case 'private':
      return PRIVATE_QUEUE_ARGUMENTS;
    case 'reply':
      return REPLY_QUEUE_ARGUMENTS;
    case 'dead-letter':
      return DEAD_LETTER_QUEUE_ARGUMENTS;
  }
}
