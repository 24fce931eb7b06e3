// The layout of one app's deploy root, and the only code that touches it:
//   <deployRoot>/releases/<name>/   one directory per release, never edited once live
//   <deployRoot>/current            a relative symlink to releases/<name>, swapped atomically
//   <deployRoot>/.deploybus/<name>.json   which ref and sha each release was made from, the release
//                                         that was current when it was deployed, and whether it was
//                                         completed (its files and pre-deploy/pre-link hooks all done)
//   <deployRoot>/prepared/                trees built ahead of a deploy (prepared-releases.ts)
// Release names are checked to be one directory name, so a name from a message cannot reach
// outside releases/.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** What is at `<deployRoot>/current` (see ReleaseDir.readCurrent). */
export type CurrentLink =
  | { readonly kind: 'none' }
  | { readonly kind: 'not-a-link' }
  | { readonly kind: 'link'; readonly target: string; readonly path: string; readonly release: string | undefined };

/** As the protocol's release name: one directory name, no "..", not starting with "." or "-". */
export const RELEASE_NAME_PATTERN = /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,254}$/;

export interface ReleaseInfo {
  readonly name: string;
  readonly ref: string | undefined;
  readonly sha: string | undefined;
  /** The release that was current when this one was deployed (what "roll back" returns to). */
  readonly previous: string | undefined;
  /**
   * false: the deploy that made it stopped before its switch (the agent died during the checkout or a
   * pre-deploy or pre-link hook), so its files or its build may be half done; never rolled back to.
   * undefined: no record says (a release made by hand, by another tool or by an agent before this
   * was kept): taken as complete.
   */
  readonly complete: boolean | undefined;
}

export interface ReleaseRecord {
  readonly ref: string;
  readonly sha: string;
  readonly previous: string | undefined;
  readonly complete: boolean;
}

function noRecord(name: string, complete: false | undefined): ReleaseInfo {
  return { name, ref: undefined, sha: undefined, previous: undefined, complete };
}

export function isReleaseName(name: string): boolean {
  return RELEASE_NAME_PATTERN.test(name);
}

/** `<UTC yyyymmddhhmmssSSS>-<ref with anything outside [A-Za-z0-9_.+@-] as "_">`: sorts by time. */
export function newReleaseName(now: Date, ref: string): string {
  const stamp = now.toISOString().replace(/[-:TZ.]/g, '');
  const safeRef = ref.replace(/[^A-Za-z0-9_.+@-]/g, '_').replace(/\.{2,}/g, '_').slice(0, 200);
  return `${stamp}-${safeRef}`;
}

export class ReleaseDir {
  constructor(readonly deployRoot: string) {}

  get releasesDir(): string {
    return join(this.deployRoot, 'releases');
  }

  get currentLink(): string {
    return join(this.deployRoot, 'current');
  }

  pathOf(name: string): string {
    if (!isReleaseName(name)) throw new Error(`release name ${JSON.stringify(name)} is not one directory name`);
    return join(this.releasesDir, name);
  }

  /** Creates the new, empty release directory (failing if it exists), once `reserve` has made its parents. */
  async create(name: string): Promise<void> {
    await mkdir(this.pathOf(name));
  }

  /** Makes sure releases/ and .deploybus/ exist; returns the path release `name` will have (a tree may be moved there). */
  async reserve(name: string): Promise<string> {
    const path = this.pathOf(name);
    await mkdir(this.releasesDir, { recursive: true });
    await mkdir(join(this.deployRoot, '.deploybus'), { recursive: true });
    return path;
  }

  /** Release directories, oldest first, complete or not (see usable). */
  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.releasesDir, { withFileTypes: true });
      return entries
        .filter((entry) => entry.isDirectory() && isReleaseName(entry.name))
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Releases that may go live, oldest first: every one but those a deploy left incomplete. */
  async usable(): Promise<string[]> {
    return this.completeOf(await this.list());
  }

  /** Why release `name` may not go live (it is not there, or a deploy left it incomplete), or undefined when it may. */
  async unusable(name: string): Promise<string | undefined> {
    if (!(await this.list()).includes(name)) return `release ${name} does not exist`;
    if ((await this.info(name)).complete === false) {
      return `release ${name} is incomplete: the deploy that made it stopped before its switch (the agent died during its checkout or a pre-deploy or pre-link hook), so its files or build may be half done; deploy its ref again instead`;
    }
    return undefined;
  }

  /**
   * What is at `current`, from one readlink: nothing, something that is not a symlink (a directory made by
   * hand), or a link with its target as written, the directory it reaches, and the release that is, if
   * it is one. The link may be written any way that lands in releases/: `releases/X` as the agent writes
   * it, `./releases/X`, or an absolute path (Capistrano's, or one made by hand).
   */
  async readCurrent(): Promise<CurrentLink> {
    let target: string;
    try {
      target = await readlink(this.currentLink);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'none' };
      if (code === 'EINVAL') return { kind: 'not-a-link' };
      throw error;
    }
    const path = resolve(this.deployRoot, target);
    const name = basename(path);
    return { kind: 'link', target, path, release: dirname(path) === resolve(this.releasesDir) && isReleaseName(name) ? name : undefined };
  }

  /** The release `current` points at, or undefined when there is none (or it points elsewhere). */
  async current(): Promise<string | undefined> {
    const current = await this.readCurrent();
    return current.kind === 'link' ? current.release : undefined;
  }

  /**
   * The release that was current before `current` was deployed, while it is still on disk: after a
   * rollback, the release rolled back from is newer by name but is not the one to go back to. For a
   * release with no such record (made before it was kept, or its predecessor is gone): the newest
   * release older than `current` by name, which sorts by time.
   */
  async previous(current: string | undefined): Promise<string | undefined> {
    if (current === undefined) return undefined;
    const names = await this.usable();
    const recorded = (await this.info(current)).previous;
    if (recorded !== undefined && recorded !== current && names.includes(recorded)) return recorded;
    return names.filter((name) => name < current).at(-1);
  }

  /** Points `current` at a release: a new symlink beside it, renamed over it (atomic on POSIX). */
  async switchTo(name: string): Promise<void> {
    this.pathOf(name);
    await this.pointCurrentAt(`releases/${name}`);
  }

  /** Puts back a `current` link as it was written (one to a directory the agent did not make), atomically. */
  async pointCurrentAt(target: string): Promise<void> {
    const temp = join(this.deployRoot, `.current.${randomBytes(6).toString('hex')}`);
    await symlink(target, temp);
    try {
      await rename(temp, this.currentLink);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  /** Removes `current` (back to "nothing deployed" when a first deploy fails after its switch). */
  async clearCurrent(): Promise<void> {
    await unlink(this.currentLink).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async remove(name: string): Promise<void> {
    await rm(this.pathOf(name), { recursive: true, force: true });
    await rm(this.metaPath(name), { force: true });
  }

  /**
   * Removes the releases a deploy left incomplete, then the oldest complete ones until at most `keep`
   * are left; never one in `protect` (current and previous).
   */
  async prune(keep: number, protect: ReadonlySet<string>): Promise<string[]> {
    const names = await this.list();
    const usable = new Set(await this.completeOf(names));
    const incomplete = names.filter((name) => !usable.has(name) && !protect.has(name));
    const complete = names.filter((name) => usable.has(name));
    const old = complete.filter((name) => !protect.has(name)).slice(0, Math.max(0, complete.length - keep));
    const removable = [...incomplete, ...old];
    for (const name of removable) await this.remove(name);
    return removable;
  }

  /** Writes a release's record whole or not at all (a temp file renamed over it), so a crash cannot leave half a record. */
  async writeInfo(name: string, info: ReleaseRecord): Promise<void> {
    const path = this.metaPath(name);
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(info));
    try {
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  /** A release's record; none (a release this agent did not make) reads as all undefined, one that cannot be read as incomplete. */
  async info(name: string): Promise<ReleaseInfo> {
    let text: string;
    try {
      text = await readFile(this.metaPath(name), 'utf8');
    } catch (error) {
      return noRecord(name, (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : false);
    }
    try {
      const parsed = JSON.parse(text) as { ref?: unknown; sha?: unknown; previous?: unknown; complete?: unknown };
      return {
        name,
        ref: typeof parsed.ref === 'string' ? parsed.ref : undefined,
        sha: typeof parsed.sha === 'string' ? parsed.sha : undefined,
        previous: typeof parsed.previous === 'string' && isReleaseName(parsed.previous) ? parsed.previous : undefined,
        complete: typeof parsed.complete === 'boolean' ? parsed.complete : undefined,
      };
    } catch {
      return noRecord(name, false);
    }
  }

  /** Those of `names` that are not recorded as incomplete, in their order. */
  private async completeOf(names: readonly string[]): Promise<string[]> {
    const complete = await Promise.all(names.map(async (name) => (await this.info(name)).complete !== false));
    return names.filter((_, i) => complete[i]);
  }

  private metaPath(name: string): string {
    this.pathOf(name);
    return join(this.deployRoot, '.deploybus', `${name}.json`);
  }
}
