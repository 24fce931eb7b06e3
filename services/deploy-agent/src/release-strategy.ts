// How a release directory gets its files. Only 'git-release' exists: the tree of a commit from the
// local bare mirror (the one repo-updater keeps fresh). A tarball or container strategy would
// implement the same two calls.
import { existsSync } from 'node:fs';
import { exportTree, mirrorPath, type GitClient } from '@deploybus/git';
import type { AppConfig } from './config.js';

export interface ReleaseStrategy {
  readonly kind: AppConfig['strategy'];
  /**
   * Makes the ref available locally (fetching when it is not) and names its commit; undefined: no such
   * ref. `beforeFetch` is called when a fetch starts, so the fetch is reported as a step while it runs.
   */
  resolve(app: AppConfig, ref: string, beforeFetch?: () => void): Promise<{ sha: string; fetched: boolean } | undefined>;
  /** Fills the new, empty release directory with commit `sha`. */
  build(app: AppConfig, sha: string, releaseDir: string): Promise<void>;
}

export type MirrorGit = Pick<GitClient, 'resolveInMirror' | 'fetchRefs' | 'resolveRef'>;

export class GitReleaseStrategy implements ReleaseStrategy {
  readonly kind = 'git-release' as const;

  constructor(
    private readonly git: MirrorGit,
    private readonly mirrorsDir: string,
    private readonly timeoutMs = 300_000,
  ) {}

  async resolve(app: AppConfig, ref: string, beforeFetch?: () => void): Promise<{ sha: string; fetched: boolean } | undefined> {
    const mirror = mirrorPath(this.mirrorsDir, app.repo);
    // No mirror yet (the first deploy here, before repo-updater made one): resolveInMirror clones it, a fetch too.
    const cloning = !existsSync(mirror);
    if (cloning) beforeFetch?.();
    // One git process when the mirror has the ref (repo-updater fetched it after the green build).
    const sha = await this.git.resolveInMirror(mirror, app.url, ref);
    if (sha !== undefined) return { sha, fetched: cloning };
    if (!cloning) beforeFetch?.();
    await this.git.fetchRefs(mirror);
    const fetched = await this.git.resolveRef(mirror, ref);
    return fetched === undefined ? undefined : { sha: fetched, fetched: true };
  }

  async build(app: AppConfig, sha: string, releaseDir: string): Promise<void> {
    await exportTree(mirrorPath(this.mirrorsDir, app.repo), sha, releaseDir, { timeoutMs: this.timeoutMs });
  }
}
