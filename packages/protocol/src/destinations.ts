// Where messages travel on RabbitMQ, and how each transport names it.
//
// Every event is published to one topic exchange under the routing key of its type. The exchange is
// RabbitMQ's built-in `amq.topic`, which exists on every vhost, so that a STOMP-only client (which
// cannot declare exchanges) works on a fresh broker; deploybus gets its own vhost to keep it apart.
// docs/protocol.md ("Transport") describes this layout for clients in other languages.
import { ProtocolError } from './errors.js';
import { NAME_PATTERN, routingSegment } from './names.js';

export const EVENTS_EXCHANGE = 'amq.topic';
/** Dead letters go to the built-in direct exchange under one key, into one durable queue. */
export const DEAD_LETTER_EXCHANGE = 'amq.direct';
export const DEAD_LETTER_ROUTING_KEY = 'deploybus.dead-letter';
export const DEAD_LETTER_QUEUE = 'deploybus.dead-letter';

/** Queue names deploybus declares all start with this. */
export const QUEUE_PREFIX = 'deploybus.';

/** Deliveries of one message before a failing handler's message is dead-lettered. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** Headers a dead letter carries besides its original, unchanged body. */
export const DEAD_LETTER_HEADERS = {
  /** A sentence naming the problem. */
  reason: 'x-deploybus-reason',
  /** The queue the message was taken from. */
  queue: 'x-deploybus-queue',
  /** The routing key it was originally published under. */
  routingKey: 'x-deploybus-routing-key',
} as const;

/** Idle time after which the broker deletes a private or reply queue: long enough to ride out a reconnect. */
export const IDLE_QUEUE_EXPIRES_MS = 60_000;

export type QueueArguments = Readonly<Record<string, string | number>>;

const DEAD_LETTER_ARGUMENTS = {
  'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE,
  'x-dead-letter-routing-key': DEAD_LETTER_ROUTING_KEY,
} as const;

/** Shared work queues and agent command queues: durable quorum queues (replicated, count deliveries). */
export const WORK_QUEUE_ARGUMENTS: QueueArguments = { 'x-queue-type': 'quorum', ...DEAD_LETTER_ARGUMENTS };
// Classic queues name their type because a vhost's default queue type may be set to quorum.
/** Private subscription queues: classic, durable, deleted by the broker a minute after the client is gone. */
export const PRIVATE_QUEUE_ARGUMENTS: QueueArguments = { 'x-queue-type': 'classic', 'x-expires': IDLE_QUEUE_EXPIRES_MS, ...DEAD_LETTER_ARGUMENTS };
/** Reply queues: classic, durable, deleted a minute after the client is gone; replies are never dead-lettered. */
export const REPLY_QUEUE_ARGUMENTS: QueueArguments = { 'x-queue-type': 'classic', 'x-expires': IDLE_QUEUE_EXPIRES_MS };
/** The one dead-letter queue, bound to DEAD_LETTER_EXCHANGE with DEAD_LETTER_ROUTING_KEY; every client declares it. */
export const DEAD_LETTER_QUEUE_ARGUMENTS: QueueArguments = { 'x-queue-type': 'classic' };

// First words that the fixed queue kinds use; a work queue named after one would collide with them.
const RESERVED_QUEUE_WORDS = new Set(['agent', 'sub', 'reply', 'dead-letter']);

/** The shared work queue `deploybus.<name>` that several instances of a daemon consume together. */
export function workQueueName(name: string): string {
  const first = name.split('.')[0] ?? '';
  if (!NAME_PATTERN.test(name) || RESERVED_QUEUE_WORDS.has(first)) {
    throw new ProtocolError('INVALID_NAME', 'queue', `work queue name ${JSON.stringify(name)} must be a name (see NAME_PATTERN) not starting with agent, sub, reply or dead-letter`);
  }
  return `${QUEUE_PREFIX}${name}`;
}

/** The durable command queue of one agent host. */
export function commandQueueName(host: string): string {
  return `${QUEUE_PREFIX}agent.${host.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** The routing key an agent's command queue is bound with (the host as one routing-key word). */
export function commandRoutingKey(host: string): string {
  return `agent.command.${routingSegment(host)}`;
}

/** A private subscription queue: every instance sees every matching event. */
export function privateQueueName(service: string, random: string): string {
  return `${QUEUE_PREFIX}sub.${routingSegment(service)}.${routingSegment(random)}`;
}

/** The `replyTo` value (a routing key) for a client whose reply id is `replyId`. */
export function replyRoutingKey(replyId: string): string {
  return `reply.${routingSegment(replyId)}`;
}

/** The queue a client's replies arrive in, bound with replyRoutingKey(replyId). */
export function replyQueueName(replyId: string): string {
  return `${QUEUE_PREFIX}reply.${routingSegment(replyId)}`;
}

/** STOMP destination that publishes under a routing key (or subscribes to a pattern). */
export function stompTopicDestination(routingKey: string): string {
  // RabbitMQ's STOMP adapter reads '/' inside a destination as a separator; escape it.
  return `/topic/${routingKey.replace(/\//g, '%2F')}`;
}

/** STOMP destination that consumes an existing queue. */
export function stompQueueDestination(queue: string): string {
  return `/amq/queue/${queue}`;
}

export const STOMP_DEAD_LETTER_DESTINATION = `/exchange/${DEAD_LETTER_EXCHANGE}/${DEAD_LETTER_ROUTING_KEY}`;

/**
 * Routing-key patterns as RabbitMQ topic exchanges match them: `*` is one dot-separated word, `#` is
 * zero or more words, and the empty key has no words. Used by the in-memory transport and by anyone
 * filtering events themselves.
 */
export function matchesPattern(pattern: string, routingKey: string): boolean {
  const key = words(routingKey);
  // reachable[j]: the pattern words seen so far can match exactly the first j key words. Linear in
  // pattern x key, where naive backtracking over several `#` words is exponential.
  let reachable: boolean[] = key.map(() => false).concat(false);
  reachable[0] = true;
  for (const word of words(pattern)) {
    const next: boolean[] = reachable.map(() => false);
    for (let j = 0; j <= key.length; j++) {
      if (reachable[j] !== true) continue;
      if (word === '#') {
        next.fill(true, j);
        break;
      }
      if (j < key.length && (word === '*' || word === key[j])) next[j + 1] = true;
    }
    reachable = next;
  }
  return reachable[key.length] === true;
}

function words(text: string): string[] {
  return text === '' ? [] : text.split('.');
}

const PATTERN_WORD = /^(?:\*|#|[A-Za-z0-9_-]+)$/;

/** True when a string is a valid routing-key pattern (words of [A-Za-z0-9_-], `*` or `#`). */
export function isValidPattern(pattern: string): boolean {
  return pattern.length > 0 && pattern.length <= 255 && pattern.split('.').every((w) => PATTERN_WORD.test(w));
}
