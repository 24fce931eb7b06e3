// Release trees built before anyone asks for them. When repo-updater on this server has fetched a
// green build into the mirror (repo.updated naming it in `built`), the agent exports that commit's
// tree into <deployRoot>/prepared/<sha>/ while nobody waits. A deploy of that commit then moves the
// directory into releases/ with one rename (same filesystem) instead of running `git archive | tar`.
//
//   <deployRoot>/prepared/<sha>/           a complete tree of commit <sha>; nothing else is ever named so
//   <deployRoot>/prepared/.building-<sha>-<random>/   being written; renamed to <sha> when complete
//
// A tree is renamed to its final name only after the export succeeded, so a directory named by a
// commit id is always complete; leftovers of a crash keep their ".building-" name and are removed.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FULL_SHA_PATTERN } from '@deploybus/protocol';

const BUILDING = '.building-';

export class PreparedReleases {
  readonly dir: string;

  constructor(
    deployRoot: string,
    /** How many prepared trees to keep; older ones are removed when a new one is made. */
    private readonly keep: number,
  ) {
    this.dir = join(deployRoot, 'prepared');
  }

  pathOf(sha: string): string {
    if (!FULL_SHA_PATTERN.test(sha)) throw new Error(`${JSON.stringify(sha)} is not a full commit id`);
    return join(this.dir, sha);
  }

  async has(sha: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(sha))).isDirectory();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** Commit ids with a complete tree, oldest first. */
  async list(): Promise<string[]> {
    const entries = await this.entries();
    const trees = entries.filter((name) => FULL_SHA_PATTERN.test(name));
    const withTimes = await Promise.all(trees.map(async (sha) => ({ sha, at: (await stat(join(this.dir, sha)).catch(() => undefined))?.mtimeMs ?? 0 })));
    return withTimes.sort((a, b) => a.at - b.at || a.sha.localeCompare(b.sha)).map((entry) => entry.sha);
  }

  /**
   * Builds the tree of `sha` with `fill` (which writes into the empty directory it is given) unless it
   * is there already, then removes the oldest trees beyond `keep`. Returns whether it built one.
   */
  async prepare(sha: string, fill: (dir: string) => Promise<void>): Promise<boolean> {
    const target = this.pathOf(sha);
    if (await this.has(sha)) return false;
    await mkdir(this.dir, { recursive: true });
    const building = join(this.dir, `${BUILDING}${sha}-${randomBytes(6).toString('hex')}`);
    await mkdir(building);
    try {
      await fill(building);
      await rename(building, target);
    } catch (error) {
      await rm(building, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
    await this.prune(new Set([sha]));
    return true;
  }

  /**
   * Moves the tree of `sha` to `destination` (which must not exist, on the same filesystem) and
   * returns true; false when there is no tree of `sha`. A tree is used once.
   */
  async take(sha: string, destination: string): Promise<boolean> {
    try {
      await rename(this.pathOf(sha), destination);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** Removes half-built leftovers and the oldest trees beyond `keep`, never one in `protect`. */
  async prune(protect: ReadonlySet<string> = new Set()): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await this.entries()) {
      if (!name.startsWith(BUILDING)) continue;
      await rm(join(this.dir, name), { recursive: true, force: true });
      removed.push(name);
    }
    const trees = await this.list();
    const excess = trees.slice(0, Math.max(0, trees.length - this.keep)).filter((sha) => !protect.has(sha));
    for (const sha of excess) {
      await rm(join(this.dir, sha), { recursive: true, force: true });
      removed.push(sha);
    }
    return removed;
  }

  /** Removes every tree (the app no longer prepares). */
  async clear(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private async entries(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}
