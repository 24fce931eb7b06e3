// Progress of one command on the bus: task.started / task.completed per step with its duration,
// and output lines in task.log batches (sent when logBatchMs old, logBatchLines long or 256 kB big), numbered
// by `seq` and published in order: each is handed to the bus at once (the bus keeps publish order,
// across reconnects too), without waiting for the previous one's confirm. A publish that fails is
// logged; it never fails the deploy itself.
import type { Bus, BusLogger } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import type { OutputLine } from './command-runner.js';

export interface TaskScope {
  readonly deploymentId: string;
  readonly app: string;
  readonly env: string;
  readonly host: string;
}

export interface TaskReporterOptions {
  readonly bus: Bus;
  readonly logger: BusLogger;
  readonly scope: TaskScope;
  readonly correlationId: string;
  readonly batchMs: number;
  readonly batchLines: number;
  /** The first task.log batch's seq (see ROLLBACK_FIRST_LOG_SEQ). */
  readonly firstSeq?: number;
}

/**
 * A deployment's rollback on a host runs after its deploy there, under the same deployment id, and the
 * ledger keeps one host's lines by (deployment, host, seq): the rollback's batches count from here, so
 * they follow the deploy's instead of being taken for repeats of them, even after an agent restart.
 */
export const ROLLBACK_FIRST_LOG_SEQ = 1_000_000;

/**
 * A batch is sent once its lines come to this many bytes, whatever logBatchLines says: a bus message
 * holds at most 1 MiB, and 200 long lines (up to 8192 characters each) would not fit.
 */
const MAX_BATCH_BYTES = 256 * 1024;

export class TaskReporter {
  private seq: number;
  /** The buffered lines' size as JSON, roughly and never under. */
  private bytes = 0;
  private lines: OutputLine[] = [];
  private step = '';
  private timer: NodeJS.Timeout | undefined;
  /** Publishes not yet confirmed. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: TaskReporterOptions) {
    this.seq = options.firstSeq ?? 0;
  }

  started(step: string): void {
    this.flush();
    this.step = step;
    this.send(this.options.bus.message('task.started', { ...this.options.scope, step }, { correlationId: this.options.correlationId }));
  }

  line(line: OutputLine): void {
    this.lines.push(line);
    // JSON of a line: its text as a JSON string, and about 80 bytes around it (stream, time).
    this.bytes += Buffer.byteLength(JSON.stringify(line.text)) + 80;
    if (this.lines.length >= this.options.batchLines || this.bytes >= MAX_BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.batchMs);
  }

  completed(step: string, ok: boolean, durationMs: number, exitCode?: number): void {
    this.flush();
    this.send(this.options.bus.message('task.completed', { ...this.options.scope, step, ok, durationMs: Math.max(0, Math.round(durationMs)), ...(exitCode === undefined ? {} : { exitCode }) }, { correlationId: this.options.correlationId }));
  }

  /** Sends what is buffered and resolves when every message so far is published. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const lines = this.lines;
    this.lines = [];
    this.bytes = 0;
    this.send(this.options.bus.message('task.log', { ...this.options.scope, step: this.step, seq: this.seq++, lines }, { correlationId: this.options.correlationId }));
  }

  private send(message: Message): void {
    const published = this.options.bus.publish(message).catch((error: unknown) => {
      this.options.logger.warn({ type: message.type, err: error instanceof Error ? error.message : String(error) }, 'progress event not published');
    });
    this.inFlight.add(published);
    void published.finally(() => this.inFlight.delete(published));
  }
}
