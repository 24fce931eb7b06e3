// Keeps the tracker's state on disk across restarts. Each save writes a temporary file, syncs it and
// renames it over the old one, so a crash leaves either the old state or the new, never half of one.
// Saves are serialized: the last one written is the last one asked for.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import type { BusLogger } from '@deploybus/bus';
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

  private async write(text: string): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${basename(this.path)}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }
}
