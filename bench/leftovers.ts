// What a run that failed or timed out half-way must still undo: connections to close and queues the
// raw clients declared. On the normal path every phase closes and deletes what it opened and takes it
// off this list; after a failure the bench closes what is left before it exits.
import amqp from 'amqplib';
import { withDeadline } from './deadline.js';

export class Leftovers {
  private readonly closers = new Set<() => Promise<void>>();
  private readonly queues = new Set<string>();

  /** Remembers an open connection; call the returned function once it is closed. */
  connection(close: () => Promise<void>): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  /** Remembers a queue a raw client declared; call the returned function once it is deleted. */
  queue(name: string): () => void {
    this.queues.add(name);
    return () => this.queues.delete(name);
  }

  /** Closes every connection still open, then deletes every queue still there (over AMQP). Returns what could not be undone. */
  async clear(amqpUrl: string, timeoutMs: number): Promise<string[]> {
    const problems: string[] = [];
    const closers = [...this.closers];
    this.closers.clear();
    const closed = await withDeadline('closing leftover connections', timeoutMs, Promise.allSettled(closers.map((close) => close()))).catch((error: unknown) => {
      problems.push(error instanceof Error ? error.message : String(error));
      return [];
    });
    for (const result of closed) if (result.status === 'rejected') problems.push(`a connection did not close: ${String(result.reason)}`);
    const queues = [...this.queues];
    if (queues.length === 0) return problems;
    try {
      await withDeadline('deleting leftover queues', timeoutMs, async () => {
        const connection = await amqp.connect(amqpUrl);
        try {
          const channel = await connection.createChannel();
          for (const queue of queues) {
            await channel.deleteQueue(queue);
            this.queues.delete(queue);
          }
        } finally {
          await connection.close().catch(() => undefined);
        }
      });
    } catch (error) {
      problems.push(`${[...this.queues].join(', ')} not deleted (${error instanceof Error ? error.message : String(error)}); they expire a minute after their last consumer left`);
    }
    return problems;
  }
}
