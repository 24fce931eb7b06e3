// The shared ledger suite on embedded SQLite (a temp file, and ':memory:'), plus URL parsing and open errors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LedgerInputError, LedgerUnreachableError, LedgerUrlError, openLedger, parseLedgerUrl } from '../src/index.js';
import { ledgerSuite } from './support/ledger-suite.js';

ledgerSuite(
  'SQLite (temp file)',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploybus-ledger-'));
    const url = `sqlite:${join(dir, 'ledger.db')}`;
    const ledger = await openLedger(url);
    return {
      ledger,
      openAnother: () => openLedger(url),
      cleanup: async () => {
        await ledger.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  true,
);

ledgerSuite(
  'SQLite (:memory:)',
  async () => {
    const ledger = await openLedger(':memory:');
    return { ledger, cleanup: () => ledger.close() };
  },
  false,
);

describe('ledger URLs', () => {
  it('reads SQLite paths and PostgreSQL URLs', () => {
    expect(parseLedgerUrl('sqlite:/var/lib/deploybus/ledger.db')).toEqual({ engine: 'sqlite', path: '/var/lib/deploybus/ledger.db' });
    expect(parseLedgerUrl('sqlite:///var/lib/ledger.db')).toEqual({ engine: 'sqlite', path: '/var/lib/ledger.db' });
    expect(parseLedgerUrl('sqlite::memory:')).toEqual({ engine: 'sqlite', path: ':memory:' });
    expect(parseLedgerUrl('./ledger.db')).toEqual({ engine: 'sqlite', path: './ledger.db' });
    expect(parseLedgerUrl(':memory:')).toEqual({ engine: 'sqlite', path: ':memory:' });
    expect(parseLedgerUrl('postgres://u:p@db:5432/deploybus')).toEqual({ engine: 'postgres', url: 'postgres://u:p@db:5432/deploybus' });
    expect(parseLedgerUrl('postgresql://db/deploybus').engine).toBe('postgres');
  });

  it('refuses what it cannot use, with a sentence and no password in it', () => {
    expect(() => parseLedgerUrl('')).toThrow(LedgerUrlError);
    expect(() => parseLedgerUrl('mysql://db/x')).toThrow(/unknown scheme mysql/);
    expect(() => parseLedgerUrl('sqlite:')).toThrow(/names no file/);
    let error: unknown;
    try {
      parseLedgerUrl('postgres://ada:s3cret@db:5432/');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LedgerUrlError);
    expect((error as LedgerUrlError).code).toBe('LEDGER_URL_INVALID');
    expect((error as Error).message).toMatch(/names no database/);
    expect((error as Error).message).not.toContain('s3cret');
  });
});

describe('opening a SQLite ledger', () => {
  it('names a path it cannot open as a database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploybus-ledger-'));
    try {
      const blocker = join(dir, 'file');
      writeFileSync(blocker, 'not a directory');
      await expect(openLedger(join(blocker, 'ledger.db'))).rejects.toBeInstanceOf(LedgerUnreachableError);
      await expect(openLedger(dir)).rejects.toThrow(/cannot reach the SQLite ledger at/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a PostgreSQL-only option', async () => {
    await expect(openLedger(':memory:', { schema: 'x' })).rejects.toBeInstanceOf(LedgerInputError);
  });

  it('keeps what it stored across a reopen of the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploybus-ledger-'));
    const path = join(dir, 'nested', 'ledger.db');
    try {
      const first = await openLedger(path);
      expect(await first.migrate()).toEqual(['0001-initial']);
      await first.recordBuild({ repo: 'shop', sha: 'a'.repeat(40), status: 'succeeded', job: 'ci', number: 1, at: new Date() });
      await first.close();
      const second = await openLedger(`sqlite:${path}`);
      expect(await second.migrate()).toEqual([]);
      expect(await second.buildPassed('shop', 'a'.repeat(40))).toBe(true);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
