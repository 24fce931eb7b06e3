// Where a repository's bare mirror lives on a server: `<mirrorsDir>/<repo>.git`. repo-updater keeps
// the mirrors there and deploy-agent checks out from them, so both take the path from here.
import { isAbsolute, join } from 'node:path';
import { NAME_PATTERN } from '@deploybus/protocol';
import { GitInputError } from './errors.js';

/** The bare mirror of `repo` under `mirrorsDir`; the repo name is checked so it stays one path component. */
export function mirrorPath(mirrorsDir: string, repo: string): string {
  if (!NAME_PATTERN.test(repo)) throw new GitInputError('name', repo, 'must be a repository name (letters, digits, "_", "-", ".", no "..")');
  if (!isAbsolute(mirrorsDir)) throw new GitInputError('path', mirrorsDir, 'the mirrors directory must be an absolute path');
  return join(mirrorsDir, `${repo}.git`);
}
