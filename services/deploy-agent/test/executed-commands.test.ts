// The executed-commands log on a real file system: ids survive a reopen, a burst of records shares
// syncs yet every one is on disk when it resolves, a torn last line (a crash mid-write) is ignored,
// a damaged line stops the agent, expired ids are dropped, and the old JSON file is taken over.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecutedCommands } from '../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'executed-commands-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HOUR = 3_600_000;
const lines = async (): Promise<string[]> => (await readFile(join(dir, 'executed-commands.log'), 'utf8')).split('\n').filter((l) => l !== '');

describe('ExecutedCommands', () => {
  it('an id is taken at once and is on disk when record resolves; it survives a reopen', async () => {
    const log = await ExecutedCommands.open(dir);
    const written = log.record('cmd-1', Date.now() + HOUR);
    expect(log.has('cmd-1')).toBe(true); // before the write: a replay arriving now is refused
    await written;
    expect((await lines()).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['cmd-1']);
    await log.close();
    const again = await ExecutedCommands.open(dir);
    expect(again.has('cmd-1')).toBe(true);
    expect(again.has('cmd-2')).toBe(false);
    await again.close();
  });

  it('a burst of records: every one is in the file when its promise resolves', async () => {
    const log = await ExecutedCommands.open(dir);
    const ids = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
    await Promise.all(
      ids.map(async (id) => {
        await log.record(id, Date.now() + HOUR);
        expect((await lines()).some((line) => (JSON.parse(line) as { id: string }).id === id)).toBe(true);
      }),
    );
    expect((await lines()).length).toBe(50);
    await log.close();
  });

  it('a last line cut short by a crash is ignored; a damaged line before it stops the open', async () => {
    const log = await ExecutedCommands.open(dir);
    await log.record('whole', Date.now() + HOUR);
    await log.close();
    await appendFile(join(dir, 'executed-commands.log'), '{"id":"torn","ex');
    const reopened = await ExecutedCommands.open(dir);
    expect(reopened.has('whole')).toBe(true);
    expect(reopened.has('torn')).toBe(false);
    await reopened.close();
    await writeFile(join(dir, 'executed-commands.log'), `not json\n${JSON.stringify({ id: 'after', exp: Date.now() + HOUR })}\n`);
    await expect(ExecutedCommands.open(dir)).rejects.toThrow(/line 1 is not an executed-command record/);
  });

  it('drops expired ids when it rewrites the file, and takes over the old JSON file', async () => {
    let now = 1_000_000;
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'executed-commands.json'), JSON.stringify({ v: 1, executed: { old: now + 500, live: now + HOUR } }));
    const log = await ExecutedCommands.open(dir, () => now);
    expect(log.has('old')).toBe(true);
    expect(log.has('live')).toBe(true);
    expect(existsSync(join(dir, 'executed-commands.json'))).toBe(false);
    await log.close();
    now += 1_000;
    const later = await ExecutedCommands.open(dir, () => now);
    expect(later.has('old')).toBe(false);
    expect(later.has('live')).toBe(true);
    expect((await lines()).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['live']);
    await later.close();
  });

  it('a record that cannot be written rejects, and the next one is tried afresh', async () => {
    const log = await ExecutedCommands.open(dir);
    const path = join(dir, 'executed-commands.log');
    await rm(path);
    await mkdir(path); // the file is now a directory: appending fails
    await expect(log.record('lost', Date.now() + HOUR)).rejects.toThrow(/EISDIR/);
    await rm(path, { recursive: true });
    await log.record('kept', Date.now() + HOUR);
    expect((await lines()).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['kept']);
    await log.close();
  });
});
