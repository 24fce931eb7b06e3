// Where messages travel on RabbitMQ, and how each transport names it.
//
// Every event is published to one topic exchange under the routing key of its type. The exchange is
// RabbitMQ's built-in `amq.topic`, which exists on every vhost, so that a STOMP-only client (which
// cannot declare exchanges) works on a fresh broker; deploybus gets its own vhost to keep it apart.

export const EVENTS_EXCHANGE = 'amq.topic';
/** Dead letters go to the built-in direct exchange under one key, into one durable queue. */
export const DEAD_LETTER_EXCHANGE = 'amq.direct';
export const DEAD_LETTER_ROUTING_KEY = 'deploybus.dead-letter';
export const DEAD_LETTER_QUEUE = 'deploybus.dead-letter';

/** Queue names deploybus declares all start with this. */
export const QUEUE_PREFIX = 'deploybus.';

/** The durable command queue of one agent host. */
export function commandQueueName(host: string): string {
  return `${QUEUE_PREFIX}agent.${host.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
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
 * zero or more words. Used by the in-memory transport and by anyone filtering events themselves.
 */
export function matchesPattern(pattern: string, routingKey: string): boolean {
  return matchWords(pattern.split('.'), 0, routingKey.split('.'), 0);
}

function matchWords(p: string[], pi: number, k: string[], ki: number): boolean {
  if (pi === p.length) return ki === k.length;
  const word = p[pi];
  if (word === '#') {
    for (let skip = ki; skip <= k.length; skip++) {
      if (matchWords(p, pi + 1, k, skip)) return true;
    }
    return false;
  }
  if (ki === k.length) return false;
  if (word === '*' || word === k[ki]) return matchWords(p, pi + 1, k, ki + 1);
  return false;
}

const PATTERN_WORD = /^(?:\*|#|[A-Za-z0-9_-]+)$/;

/** True when a string is a valid routing-key pattern (words of [A-Za-z0-9_-], `*` or `#`). */
export function isValidPattern(pattern: string): boolean {
  return pattern.length > 0 && pattern.length <= 255 && pattern.split('.').every((w) => PATTERN_WORD.test(w));
}
