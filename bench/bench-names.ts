// Every queue, routing key and host name the bench creates, made unique per run so that a bench never
// meets another bench's (or a test's) messages, and so that leftovers are easy to recognise.
import { randomBytes } from 'node:crypto';

/** Queues the raw clients declare all start with this (deploybus names its own queues). */
export const BENCH_QUEUE_PREFIX = 'deploybus.bench-';

/** One bench process: a short random word shared by all its names. */
export const RUN_ID = randomBytes(4).toString('hex');

let counter = 0;

/** A fresh routing-key word / host label: letters, digits and "-" only. */
export function uniqueWord(role: string): string {
  counter += 1;
  return `bench-${RUN_ID}-${role}${counter}`;
}

export function benchQueueName(role: string): string {
  counter += 1;
  return `${BENCH_QUEUE_PREFIX}${RUN_ID}-${role}${counter}`;
}
