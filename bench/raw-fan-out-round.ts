// One timed fan-out round of a raw client: send the request, wait until every responder's reply has
// been routed back through `waiting`, within the deadline. Both raw clients time it the same way.
import { performance } from 'node:perf_hooks';
import { withDeadline } from './deadline.js';

export interface RawFanOutRound {
  /** Where the client's reply consumer looks up the request a reply answers. */
  readonly waiting: Map<string, (responder: string) => void>;
  /** The request's message id. */
  readonly id: string;
  readonly responders: number;
  readonly timeoutMs: number;
  /** Names the client in the timeout message, e.g. "raw amqplib". */
  readonly label: string;
  /** Publishes the request; resolves once the broker confirmed it. */
  readonly send: () => Promise<unknown>;
}

export async function timeRawFanOutRound(round: RawFanOutRound): Promise<number> {
  const heard = new Set<string>();
  const started = performance.now();
  const allReplied = new Promise<void>((resolve) => {
    round.waiting.set(round.id, (responder) => {
      heard.add(responder);
      if (heard.size === round.responders) resolve();
    });
  });
  try {
    await withDeadline(
      () => `${round.label} fan-out: ${round.responders - heard.size} of ${round.responders} responders did not reply`,
      round.timeoutMs,
      Promise.all([round.send(), allReplied]),
    );
  } finally {
    round.waiting.delete(round.id);
  }
  return performance.now() - started;
}
