// Typed errors of the ledger store. Callers branch on the class (or `code`), never on message text.

/** The ledger URL is not one this store understands; `url` is the offending value (credentials masked). */
export class LedgerUrlError extends Error {
  override readonly name = 'LedgerUrlError';
  readonly code = 'LEDGER_URL_INVALID';
  readonly url: string;
  constructor(url: string, problem: string) {
    super(`ledger URL ${JSON.stringify(url)}: ${problem}`);
    this.url = url;
  }
}

/** The database could not be opened or reached (file not openable, server down, bad credentials, no such database). */
export class LedgerUnreachableError extends Error {
  override readonly name = 'LedgerUnreachableError';
  readonly code = 'LEDGER_UNREACHABLE';
  readonly engine: 'sqlite' | 'postgres';
  readonly target: string;
  constructor(engine: 'sqlite' | 'postgres', target: string, problem: string, options?: { cause?: unknown }) {
    super(`cannot reach the ${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ledger at ${target}: ${problem}`, options);
    this.engine = engine;
    this.target = target;
  }
}

/** A schema migration failed; `migration` names it. The ledger is left at the last migration that succeeded. */
export class LedgerMigrationError extends Error {
  override readonly name = 'LedgerMigrationError';
  readonly code = 'LEDGER_MIGRATION_FAILED';
  readonly migration: string | undefined;
  constructor(migration: string | undefined, problem: string, options?: { cause?: unknown }) {
    super(`ledger migration ${migration ?? '(setup)'} failed: ${problem}`, options);
    this.migration = migration;
  }
}

/** A value handed to the ledger is unusable (a timestamp that is not a time, a negative limit); `field` names it. */
export class LedgerInputError extends Error {
  override readonly name = 'LedgerInputError';
  readonly code = 'LEDGER_INPUT_INVALID';
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`ledger: ${field}: ${problem}`);
    this.field = field;
  }
}

/** Hides the password of a URL so it can go into an error or a log line. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}
