// An app's tags for people choosing what to deploy: read from the app's repository with `git ls-remote`
// (the same URL refs resolve against), newest version first. ls-remote tells no dates, so "newest" is
// git's version order (`git tag --sort=-v:refname`): v1.10.0 after v1.9.2, numbers compared as numbers.
import type { RemoteRefsReader } from './ref-resolver.js';

export interface RepoTag {
  readonly name: string;
  /** The commit the tag points at (annotated tags peeled). */
  readonly sha: string;
}

/** The tags of `app`'s repository, newest first; undefined when the app has no repository URL. */
export type TagLister = (app: string) => Promise<RepoTag[] | undefined>;

export function remoteTagLister(repoUrls: ReadonlyMap<string, string>, git: RemoteRefsReader): TagLister {
  return async (app) => {
    const url = repoUrls.get(app);
    return url === undefined ? undefined : tagsOf(await git.lsRemote(url));
  };
}

/** Tags from ls-remote's refs: peeled (`^{}`) commits win over the tag object ids; newest version first. */
export function tagsOf(refs: ReadonlyMap<string, string>): RepoTag[] {
  const tags = new Map<string, string>();
  for (const [ref, sha] of refs) {
    if (!ref.startsWith('refs/tags/')) continue;
    const peeled = ref.endsWith('^{}');
    const name = ref.slice('refs/tags/'.length, peeled ? -3 : undefined);
    if (peeled || !tags.has(name)) tags.set(name, sha);
  }
  return [...tags].map(([name, sha]) => ({ name, sha })).sort((a, b) => compareVersions(b.name, a.name));
}

/** Orders names as versions: runs of digits compare as numbers, the rest as text; a pre-release ("-rc1") sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined || y === undefined) {
      // One name is a prefix of the other: "1.2.0-rc1" before "1.2.0", but "1.2.0.1" after "1.2.0".
      const rest = (x ?? y) as string | number;
      const preRelease = typeof rest === 'string' && rest.startsWith('-');
      const longerIsLater = !preRelease;
      return (x === undefined) === longerIsLater ? -1 : 1;
    }
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return 1;
    if (typeof y === 'number') return -1;
    return x < y ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function versionParts(name: string): Array<string | number> {
  return (name.match(/\d+|\D+/g) ?? []).map((part) => (/^\d+$/.test(part) ? Number(part.slice(-15)) : part));
}
