// Writes a file so that a crash or power loss leaves either the old content or the new, never half:
// a temporary file beside it, synced, then renamed over it.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o600: state and spools can hold internal details). */
  readonly mode?: number;
  /** Create the parent directories (mode 0o700) first (default true). */
  readonly createDirs?: boolean;
  /**
   * Also sync the directory after the rename (default false), so the new name itself survives a power
   * loss: for state that must never go back to the old content (e.g. ids of commands already run).
   */
  readonly syncDirectory?: boolean;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  if (options.createDirs ?? true) await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', options.mode ?? 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  if (options.syncDirectory === true) {
    const directory = await open(dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}
