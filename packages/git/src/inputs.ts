// Everything that reaches git from a message, a webhook or a config file is checked here first:
// refs by git's own rules (and deploybus's stricter ones), URLs by an allow-list of transports.
import { validateRefName } from '@deploybus/protocol';
import { GitInputError } from './errors.js';

/** Transports a repository URL may use unless configured otherwise. Never `ext::` or `fd::`. */
export const DEFAULT_ALLOWED_PROTOCOLS = ['https', 'ssh', 'git', 'file'] as const;
export type GitProtocol = 'https' | 'http' | 'ssh' | 'git' | 'file';

export function assertRef(ref: string): string {
  const check = validateRefName(ref);
  if (!check.ok) throw new GitInputError('ref', ref, check.reason);
  return ref;
}

const SCP_LIKE = /^([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!\/\/)[A-Za-z0-9._~/-]+$/;

/** Returns the transport of a repository URL, or throws GitInputError naming what is wrong with it. */
export function assertRepoUrl(url: string, allowed: readonly GitProtocol[] = DEFAULT_ALLOWED_PROTOCOLS): GitProtocol {
  if (url.length === 0 || url.length > 2048) throw new GitInputError('url', url, 'must be 1 to 2048 characters');
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) throw new GitInputError('url', url, 'remote helpers ("ext::", "fd::", …) are never allowed');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\u0000-\u001f\u007f\s]/.test(url)) throw new GitInputError('url', url, 'must not contain spaces or control characters');
  if (url.startsWith('-')) throw new GitInputError('url', url, 'must not start with "-" (git would read it as an option)');
  let protocol: GitProtocol;
  if (url.startsWith('/')) protocol = 'file';
  else if (SCP_LIKE.test(url)) protocol = 'ssh';
  else {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new GitInputError('url', url, 'is neither a URL, an absolute path nor user@host:path');
    }
    const scheme = parsed.protocol.replace(/:$/, '');
    if (scheme !== 'https' && scheme !== 'http' && scheme !== 'ssh' && scheme !== 'git' && scheme !== 'file') {
      throw new GitInputError('url', url, `transport "${scheme}" is not one git-watcher or repo-updater may use`);
    }
    protocol = scheme;
  }
  if (!allowed.includes(protocol)) throw new GitInputError('url', url, `transport "${protocol}" is not allowed here (allowed: ${allowed.join(', ')})`);
  return protocol;
}
