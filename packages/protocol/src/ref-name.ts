// Git ref names (branches, tags, full commit ids) as deploybus accepts them in messages.
//
// A ref travels from a message to a `git` argument list (never a shell) and into release directory
// names and logs. git's own check-ref-format rules keep it a ref; the stricter deploybus rules below
// are defence in depth, so that a ref stays harmless even where someone later misuses it.
import { z } from 'zod';

export type RefNameCheck = { ok: true } | { ok: false; reason: string };

/** Longest ref deploybus accepts, in UTF-8 bytes (git itself has no fixed limit). */
export const MAX_REF_BYTES = 255;

/** A full commit id: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits. */
export const FULL_SHA_PATTERN = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * The deploybus rules as one regular expression, for JSON Schema and other-language validators.
 * validateRefName is the reference (it also says why); the tests hold the two in agreement.
 */
export const REF_PATTERN =
  /^(?=[A-Za-z0-9._/+@-]{1,255}$)(?!@$)(?!.*\.\.)(?!.*\.lock(?:\/|$))(?!.*\.$)[A-Za-z0-9_+@][A-Za-z0-9._+@-]*(?:\/[A-Za-z0-9_+@][A-Za-z0-9._+@-]*)*$/;

// git check-ref-format rule 4, 5 and 10 characters.
const GIT_FORBIDDEN_CHARS = new Set(['~', '^', ':', '?', '*', '[', '\\']);

/**
 * Deploybus accepts only these characters. An allow-list rather than a deny-list of `$`, backquote,
 * quotes, `;`, `|`, `&`, `<`, `>`, `(`, `)`, `!`, `#`, `{`, `}`, `=`, `,`: a deny-list is only as good
 * as one's memory of every shell, glob, URL and format syntax. `%` is refused too: it is the escape
 * character of git's `ext::` transport command lines, of URLs and of systemd unit specifiers. Non-ASCII
 * is refused because a look-alike letter (Cyrillic `а` in `mаin`) would make two different refs read the
 * same in a log or an approval. `+` (semver build metadata) and `@` (git handles `@{` and `@` itself) stay.
 */
const DEPLOYBUS_ALLOWED_CHAR = /^[A-Za-z0-9._/+@-]$/;

/** git's `check-ref-format --allow-onelevel` rules, and nothing more. */
export function checkGitRefFormat(ref: string): RefNameCheck {
  if (ref.length === 0) return refused('must not be empty');
  for (const char of ref) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return refused('must not contain control characters (newline, NUL, tab, DEL...)');
    if (char === ' ') return refused('must not contain spaces');
    if (GIT_FORBIDDEN_CHARS.has(char)) return refused(`must not contain ${JSON.stringify(char)}`);
  }
  if (ref === '@') return refused('must not be "@" alone');
  if (ref.includes('..')) return refused('must not contain ".."');
  if (ref.includes('@{')) return refused('must not contain "@{"');
  if (ref.startsWith('/') || ref.endsWith('/')) return refused('must not begin or end with "/"');
  if (ref.includes('//')) return refused('must not contain "//"');
  if (ref.endsWith('.')) return refused('must not end with "."');
  for (const part of ref.split('/')) {
    if (part.startsWith('.')) return refused('no "/"-separated part may begin with "."');
    if (part.endsWith('.lock')) return refused('no "/"-separated part may end with ".lock"');
  }
  return { ok: true };
}

/** Whether a ref (or full commit id) may appear in a deploybus message: git's rules plus ours. */
export function validateRefName(ref: string): RefNameCheck {
  // Checked first so a hostile megabyte-long string costs nothing more.
  if (Buffer.byteLength(ref) > MAX_REF_BYTES) return refused(`must be at most ${MAX_REF_BYTES} bytes`);
  if (FULL_SHA_PATTERN.test(ref)) return { ok: true };
  const git = checkGitRefFormat(ref);
  if (!git.ok) return git;
  for (const char of ref) {
    if (!DEPLOYBUS_ALLOWED_CHAR.test(char)) {
      return refused(`must not contain ${JSON.stringify(char)}: refs hold only letters, digits and . _ - / + @`);
    }
  }
  // git reads an argument that begins with "-" as an option (`--upload-pack=...`); no part may look like one.
  if (ref.split('/').some((part) => part.startsWith('-'))) return refused('no "/"-separated part may begin with "-"');
  return { ok: true };
}

export const refSchema = z
  .string()
  .superRefine((value, ctx) => {
    const check = validateRefName(value);
    if (!check.ok) ctx.addIssue({ code: 'custom', message: check.reason });
  })
  .meta({
    description: 'A git branch, tag or ref name (e.g. "v1.4.1", "refs/heads/main") or a full commit id; see "Names" for the rules.',
    pattern: REF_PATTERN.source,
    minLength: 1,
    maxLength: MAX_REF_BYTES,
  });

function refused(reason: string): RefNameCheck {
  return { ok: false, reason };
}
