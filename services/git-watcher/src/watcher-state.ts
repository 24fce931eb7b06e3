// git-watcher's memory across restarts: the refs each polled repository had, and the delivery ids of
// recent webhooks. One JSON file, written atomically (temp file, fsync, rename), one write at a time.
import { readFile, rename } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic, type Logger } from '@deploybus/runtime';

const stateSchema = z.object({
  version: z.literal(1),
  /** repo name -> ref -> sha, as last seen by ls-remote. */
  polled: z.record(z.string(), z.record(z.string(), z.string())).default({}),
  /** repo name -> how many ref changes polling has published for it: part of each one's message id. */
  pollSequence: z.record(z.string(), z.number().int().nonnegative()).default({}),
  /** Oldest first. */
  deliveries: z.array(z.string()).default([]),
});

export type WatcherState = z.output<typeof stateSchema>;

export function emptyState(): WatcherState {
  return { version: 1, polled: {}, pollSequence: {}, deliveries: [] };
}

export class StateStore {
  private state: WatcherState = emptyState();
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly logger: Pick<Logger, 'warn' | 'error'>,
  ) {}

  /** Reads the file; a missing file is a first start, an unreadable one is moved aside and logged. */
  async load(): Promise<WatcherState> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.state = emptyState();
      return this.state;
    }
    let parsed: WatcherState | undefined;
    try {
      const result = stateSchema.safeParse(JSON.parse(text));
      if (result.success) parsed = result.data;
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined) {
      const aside = `${this.file}.corrupt-${Date.now()}`;
      await rename(this.file, aside).catch(() => undefined);
      this.logger.warn({ file: this.file, movedTo: aside }, 'state file is not valid; starting with no memory (polling records without publishing, as on a first start)');
      parsed = emptyState();
    }
    this.state = parsed;
    return this.state;
  }

  get current(): WatcherState {
    return this.state;
  }

  /** Changes the state and writes it; writes happen one after another, each with the latest state. */
  update(change: (state: WatcherState) => void): Promise<void> {
    change(this.state);
    const snapshot = JSON.stringify(this.state);
    this.writing = this.writing.then(
      () => this.write(snapshot),
      () => this.write(snapshot),
    );
    return this.writing;
  }

  async flush(): Promise<void> {
    await this.writing.catch(() => undefined);
  }

  private write(text: string): Promise<void> {
    return writeFileAtomic(this.file, text);
  }
}
