// Which engine and where: `sqlite:PATH`, a plain path or ':memory:' -> embedded SQLite; `postgres://` or
// `postgresql://` -> PostgreSQL. Pure, so it can be checked at config time before anything is opened.
import { LedgerUrlError, maskUrl } from './errors.js';

export type LedgerTarget = { readonly engine: 'sqlite'; readonly path: string } | { readonly engine: 'postgres'; readonly url: string };

export function parseLedgerUrl(url: string): LedgerTarget {
  const value = url.trim();
  if (value === '') throw new LedgerUrlError(url, 'it is empty; give a file path, sqlite:PATH, :memory: or postgres://USER@HOST:PORT/DB');
  if (value.includes('\0')) throw new LedgerUrlError(maskUrl(url), 'it contains a NUL byte');
  if (/^postgres(ql)?:\/\//i.test(value)) {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new LedgerUrlError(maskUrl(value), 'it is not a valid URL');
    }
    if (!parsed.hostname) throw new LedgerUrlError(maskUrl(value), 'it names no host');
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (!database || database.includes('/')) throw new LedgerUrlError(maskUrl(value), 'it names no database (postgres://USER@HOST:PORT/DATABASE)');
    return { engine: 'postgres', url: value };
  }
  if (/^sqlite:/i.test(value)) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new LedgerUrlError(url, 'sqlite: names no file; use sqlite:/path/to/ledger.db or sqlite::memory:');
    return { engine: 'sqlite', path };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value);
  if (scheme) throw new LedgerUrlError(maskUrl(value), `unknown scheme ${scheme[1] ?? ''}: use a file path, sqlite:PATH or postgres://`);
  return { engine: 'sqlite', path: value };
}
