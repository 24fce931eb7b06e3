// The ids of commands this agent has taken, kept on disk so a replayed command is refused after a
// restart (or a crash) too. An id is kept until its command's expiry has passed: from then on the
// expiry check refuses a replay by itself, so only the commands of the last commandMaxAgeMs matter.
//
// On disk: `executed-commands.log`, one JSON line per taken command, appended and fdatasync'ed.
// Durability rules, so that a crash never lets a command run twice:
// - `has` answers from memory, and `record` puts the id in memory before anything is awaited, so a
//   replay that arrives while the first copy runs is refused whatever the disk does;
// - `record` resolves only once the line is on disk (written, then fdatasync: the file already exists,
//   so the data and its length are all that must reach the disk). The agent does nothing a second
//   run could repeat (hooks, the `current` switch, an action) before that;
// - records that arrive while a sync runs are written and synced together by the next one (group
//   commit), so a burst of commands costs one sync, not one each;
// - a crash can tear only the last line, one whose `record` never resolved (its command never ran):
//   an unterminated last line is ignored on open; any other line that does not parse stops the agent;
// - the file is rewritten (temp file, sync, rename, sync of the directory) at open and when expired
//   lines pile up, so it stays as small as the live ids.
// The previous format, `executed-commands.json` (one JSON object), is read at open and then removed.
import { open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@deploybus/runtime';

interface LegacyStateFile {
  readonly v: 1;
  /** command id -> its expiresAt in epoch milliseconds */
  readonly executed: Record<string, number>;
}

interface LogLine {
  readonly id: string;
  /** expiresAt in epoch milliseconds */
  readonly exp: number;
}

interface Pending {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const LOG_FILE = 'executed-commands.log';
const LEGACY_FILE = 'executed-commands.json';
/** Rewrite the log once it holds this many lines more than there are live ids (and at least this many). */
const COMPACT_AFTER_LINES = 1_000;

export class ExecutedCommands {
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private handle: FileHandle | undefined;
  private linesInFile: number;
  private closed = false;

  private constructor(
    private readonly stateDir: string,
    private readonly executed: Map<string, number>,
    private readonly now: () => number,
  ) {
    this.linesInFile = executed.size;
  }

  static async open(stateDir: string, now: () => number = Date.now): Promise<ExecutedCommands> {
    const executed = new Map<string, number>();
    await readLegacy(join(stateDir, LEGACY_FILE), executed);
    await readLog(join(stateDir, LOG_FILE), executed);
    const commands = new ExecutedCommands(stateDir, executed, now);
    await commands.compact();
    await unlink(join(stateDir, LEGACY_FILE)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    return commands;
  }

  get path(): string {
    return join(this.stateDir, LOG_FILE);
  }

  has(commandId: string): boolean {
    return this.executed.has(commandId);
  }

  /** Takes the id at once (a replay is refused from now on) and resolves when it is on disk. */
  record(commandId: string, expiresAtMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the executed-commands log is closed'));
    this.executed.set(commandId, expiresAtMs);
    const line = `${JSON.stringify({ id: commandId, exp: expiresAtMs } satisfies LogLine)}\n`;
    const written = new Promise<void>((resolve, reject) => this.pending.push({ line, resolve, reject }));
    this.kick();
    return written;
  }

  /** Starts a flush unless one runs; one that ends with records pending (added as it finished) starts another. */
  private kick(): void {
    if (this.flushing !== undefined) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) this.kick();
    });
  }

  /** Waits for the records under way, then closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing !== undefined) await this.flushing;
    await this.handle?.close();
    this.handle = undefined;
  }

  /** Writes what is pending, one write and one sync per round, until nothing is left. */
  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        if (this.linesInFile > Math.max(COMPACT_AFTER_LINES, 2 * this.executed.size)) {
          // The ids of this batch are in `executed` already, so the rewrite holds them too.
          await this.compact();
        } else {
          this.handle ??= await open(this.path, 'a', 0o600);
          await this.handle.write(batch.map((p) => p.line).join(''));
          await this.handle.datasync();
          this.linesInFile += batch.length;
        }
        for (const p of batch) p.resolve();
      } catch (error) {
        // The next record tries with a fresh file handle.
        await this.handle?.close().catch(() => undefined);
        this.handle = undefined;
        for (const p of batch) p.reject(error);
      }
    }
  }

  /** Rewrites the log with the live ids only: a temp file, synced, renamed over it, the directory synced. */
  private async compact(): Promise<void> {
    const now = this.now();
    for (const [id, expires] of this.executed) if (expires < now) this.executed.delete(id);
    const text = [...this.executed].map(([id, exp]) => `${JSON.stringify({ id, exp } satisfies LogLine)}\n`).join('');
    await this.handle?.close();
    this.handle = undefined;
    await writeFileAtomic(this.path, text, { syncDirectory: true });
    this.linesInFile = this.executed.size;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    // A missing file is a fresh agent; an unreadable one must stop it, or replays would be accepted.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function readLegacy(path: string, into: Map<string, number>): Promise<void> {
  const text = await readText(path);
  if (text === undefined) return;
  const parsed = JSON.parse(text) as Partial<LegacyStateFile>;
  if (parsed.v !== 1 || typeof parsed.executed !== 'object' || parsed.executed === null) throw new Error(`${path} is not an executed-commands file`);
  for (const [id, exp] of Object.entries(parsed.executed)) if (typeof exp === 'number') into.set(id, exp);
}

async function readLog(path: string, into: Map<string, number>): Promise<void> {
  const text = await readText(path);
  if (text === undefined) return;
  const lines = text.split('\n');
  // The piece after the last newline is '' for a whole file, or a line a crash cut short: that
  // record never resolved, so its command never ran.
  lines.pop();
  lines.forEach((line, index) => {
    let entry: Partial<LogLine> | undefined;
    try {
      entry = JSON.parse(line) as Partial<LogLine>;
    } catch {
      entry = undefined;
    }
    if (typeof entry?.id !== 'string' || typeof entry.exp !== 'number') throw new Error(`${path} line ${index + 1} is not an executed-command record`);
    into.set(entry.id, entry.exp);
  });
}
