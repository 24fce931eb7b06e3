// Keeps the tracker's state on disk across restarts. Each save writes a temporary file, syncs it and
// renames it over the old one, so a crash leaves either the old state or the new, never half of one.
// Saves are serialized: the last one written is the last one asked for.
import { readFile, rename } from 'node:fs/promises';
import type { BusLogger } from '@deploybus/bus';
import { writeFileAtomic } from '@deploybus/runtime';
import { trackerStateSchema, type TrackerState } from './build-tracker.js';

export class StateFile {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly logger: BusLogger,
  ) {}

  /** The saved state; undefined when there is none yet. An unreadable file is set aside and reported. */
  async load(): Promise<TrackerState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let problem: string;
    try {
      const parsed = trackerStateSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data as TrackerState;
      problem = parsed.error.issues[0]?.message ?? 'invalid';
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    const aside = `${this.path}.bad-${Date.now()}`;
    await rename(this.path, aside).catch(() => undefined);
    this.logger.error({ path: this.path, aside, problem }, 'state file is not readable; moved aside, starting with no builds in flight');
    return undefined;
  }

  save(state: TrackerState): Promise<void> {
    const text = JSON.stringify(state);
    const next = this.chain.then(() => this.write(text));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private write(text: string): Promise<void> {
    return writeFileAtomic(this.path, text);
  }
}
