// The ids of commands this agent has taken, kept on disk so a replayed command is refused after a
// restart too. An id is kept until its command's expiry has passed: from then on the expiry check
// refuses a replay by itself, so the file stays as small as the commands of the last commandMaxAgeMs.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@deploybus/runtime';

interface StateFile {
  readonly v: 1;
  /** command id -> its expiresAt in epoch milliseconds */
  readonly executed: Record<string, number>;
}

export class ExecutedCommands {
  /** Writes one after another, so an older snapshot never lands over a newer one. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly executed: Map<string, number>,
    private readonly now: () => number,
  ) {}

  static async open(stateDir: string, now: () => number = Date.now): Promise<ExecutedCommands> {
    const path = join(stateDir, 'executed-commands.json');
    let executed = new Map<string, number>();
    try {
      const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<StateFile>;
      if (parsed.v !== 1 || typeof parsed.executed !== 'object' || parsed.executed === null) throw new Error(`${path} is not an executed-commands file`);
      executed = new Map(Object.entries(parsed.executed).filter((entry): entry is [string, number] => typeof entry[1] === 'number'));
    } catch (error) {
      // A missing file is a fresh agent; an unreadable one must stop it, or replays would be accepted.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return new ExecutedCommands(path, executed, now);
  }

  has(commandId: string): boolean {
    return this.executed.has(commandId);
  }

  /** Records the id (before the command runs: a crash mid-command must not let it run again) and persists. */
  async record(commandId: string, expiresAtMs: number): Promise<void> {
    const now = this.now();
    for (const [id, expires] of this.executed) if (expires < now) this.executed.delete(id);
    this.executed.set(commandId, expiresAtMs);
    const text = JSON.stringify({ v: 1, executed: Object.fromEntries(this.executed) } satisfies StateFile);
    const write = this.writes.then(() => writeFileAtomic(this.path, text));
    this.writes = write.catch(() => undefined);
    await write;
  }
}
