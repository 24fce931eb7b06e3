// A durable outbox on disk for messages that could not reach the bus (a git hook whose push must
// not fail). Each message is one file, written atomically; a sender claims a file by renaming it,
// so the daemon and the next hook run never send the same file at once, and removes it only after
// the broker confirmed. A claim left behind by a crash is taken over after `staleClaimMs`.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMessage, type Message } from '@deploybus/protocol';
import { writeFileAtomic } from './atomic-file.js';

export interface SpoolOptions {
  readonly staleClaimMs?: number;
}

export interface DrainResult {
  readonly sent: number;
  readonly failed: number;
  /** Files that do not hold a valid message; moved aside as `*.bad` so they are looked at, not resent. */
  readonly rejected: number;
}

let sequence = 0;
const PENDING = '.json';
const CLAIMED = '.sending';

export class DiskSpool {
  private readonly staleClaimMs: number;

  constructor(
    readonly dir: string,
    options: SpoolOptions = {},
  ) {
    this.staleClaimMs = options.staleClaimMs ?? 5 * 60_000;
  }

  /** Writes a message so that it survives a crash or power loss before it is sent. */
  async put(message: Message): Promise<string> {
    // Time, then a per-process sequence for puts within one millisecond: a sorted listing is sending order.
    sequence = (sequence + 1) % 1_000_000;
    const name = `${Date.now().toString().padStart(15, '0')}-${sequence.toString().padStart(6, '0')}-${message.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const path = join(this.dir, name + PENDING);
    await writeFileAtomic(path, JSON.stringify(message));
    return path;
  }

  async pending(): Promise<number> {
    return (await this.list()).length;
  }

  /** Sends every spooled message in order with `send` (which must resolve only once the broker has it). */
  async drain(send: (message: Message) => Promise<void>): Promise<DrainResult> {
    let sent = 0;
    let failed = 0;
    let rejected = 0;
    for (const file of await this.list()) {
      const claimed = await this.claim(file);
      if (claimed === undefined) continue;
      const parsed = parseMessage(await readFile(claimed));
      if (!parsed.ok) {
        await rename(claimed, claimed.replace(/\.sending$/, '.bad')).catch(() => undefined);
        rejected += 1;
        continue;
      }
      try {
        await send(parsed.value);
        await unlink(claimed);
        sent += 1;
      } catch {
        // Hand it back, keeping order: the next drain starts from it.
        await rename(claimed, claimed.slice(0, -CLAIMED.length) + PENDING).catch(() => undefined);
        failed += 1;
        break;
      }
    }
    return { sent, failed, rejected };
  }

  private async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const now = Date.now();
    const files: string[] = [];
    for (const name of names.sort()) {
      if (name.endsWith(PENDING) && !name.startsWith('.')) files.push(join(this.dir, name));
      else if (name.endsWith(CLAIMED)) {
        const path = join(this.dir, name);
        const info = await stat(path).catch(() => undefined);
        if (info && now - info.mtimeMs > this.staleClaimMs) files.push(path);
      }
    }
    return files;
  }

  /** Renames the file to a claim; undefined when another sender got there first. */
  private async claim(file: string): Promise<string | undefined> {
    // A claim is stale by its modification time, and a rename keeps that time: without this, a file
    // spooled more than staleClaimMs ago looked stale the moment it was claimed, and a second sender
    // (the next hook run, while the daemon drains) took it over and sent it again.
    const now = new Date();
    if (!(await utimes(file, now, now).then(() => true, () => false))) return undefined; // gone: claimed by another sender
    const base = file.endsWith(CLAIMED) ? file.slice(0, -CLAIMED.length) : file.slice(0, -PENDING.length);
    const target = `${base}${CLAIMED}`;
    if (file === target) {
      // Taking over a stale claim: rename to a fresh claim name so two takers cannot both win.
      const fresh = `${base}.${randomBytes(3).toString('hex')}${CLAIMED}`;
      return rename(file, fresh).then(
        () => fresh,
        () => undefined,
      );
    }
    return rename(file, target).then(
      () => target,
      () => undefined,
    );
  }
}
