// Turns the ref a person asked for into the commit it names, so the build gate and the ledger speak
// of commits. A full commit id is its own answer; a tag or branch is looked up with `git ls-remote` on
// the app's repository URL when the config gives one. Without a URL only full commit ids resolve.
import { FULL_SHA_PATTERN } from '@deploybus/protocol';

/** Returns the commit `ref` names for `app`, undefined when it names none; throws when it cannot tell now. */
export type RefResolver = (app: string, ref: string) => Promise<string | undefined>;

/** What the resolver needs of GitClient: the real one satisfies it. */
export interface RemoteRefsReader {
  lsRemote(url: string): Promise<Map<string, string>>;
}

export function isFullSha(ref: string): boolean {
  return FULL_SHA_PATTERN.test(ref);
}

/** Full commit ids resolve to themselves; other refs through ls-remote of `repoUrls[app]`, peeled tags first. */
export function remoteRefResolver(repoUrls: ReadonlyMap<string, string>, git: RemoteRefsReader): RefResolver {
  return async (app, ref) => {
    if (isFullSha(ref)) return ref;
    const url = repoUrls.get(app);
    if (url === undefined) return undefined;
    const refs = await git.lsRemote(url);
    const candidates = ref.startsWith('refs/') ? [`${ref}^{}`, ref] : [`refs/tags/${ref}^{}`, `refs/tags/${ref}`, `refs/heads/${ref}`];
    for (const name of candidates) {
      const sha = refs.get(name);
      if (sha !== undefined) return sha;
    }
    return undefined;
  };
}
