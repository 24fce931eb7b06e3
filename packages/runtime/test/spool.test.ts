// The disk spool keeps messages across failures, sends them in order, and never twice at once.
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMessage, type Message } from '@deploybus/protocol';
import { DiskSpool } from '../src/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function spoolDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'deploybus-spool-'));
  dirs.push(d);
  return join(d, 'spool');
}

function message(n: number): Message {
  return createMessage('heartbeat', { service: 's', host: 'h1', instance: `i${n}`, version: '1', uptimeMs: n, intervalMs: 1 }, { source: { service: 's', host: 'h1' } });
}

describe('DiskSpool', () => {
  it('sends spooled messages in order and removes each once the send resolved', async () => {
    const spool = new DiskSpool(spoolDir());
    const sent = [message(1), message(2), message(3)];
    for (const m of sent) await spool.put(m);
    expect(await spool.pending()).toBe(3);
    const got: string[] = [];
    const result = await spool.drain(async (m) => void got.push(m.id));
    expect(result).toEqual({ sent: 3, failed: 0, rejected: 0 });
    expect(got).toEqual(sent.map((m) => m.id));
    expect(await spool.pending()).toBe(0);
  });

  it('keeps a message whose send failed, and everything after it, for the next drain', async () => {
    const spool = new DiskSpool(spoolDir());
    const sent = [message(1), message(2), message(3)];
    for (const m of sent) await spool.put(m);
    let calls = 0;
    const first = await spool.drain(async () => {
      calls += 1;
      if (calls === 2) throw new Error('broker away');
    });
    expect(first).toEqual({ sent: 1, failed: 1, rejected: 0 });
    const got: string[] = [];
    await spool.drain(async (m) => void got.push(m.id));
    expect(got).toEqual([sent[1]?.id, sent[2]?.id]);
  });

  it('lets only one of two concurrent drains send each message', async () => {
    const dir = spoolDir();
    const a = new DiskSpool(dir);
    const b = new DiskSpool(dir);
    for (let i = 0; i < 20; i++) await a.put(message(i));
    const got: string[] = [];
    const send = async (m: Message): Promise<void> => {
      got.push(m.id);
      await new Promise((r) => setTimeout(r, 1));
    };
    await Promise.all([a.drain(send), b.drain(send)]);
    expect(got).toHaveLength(20);
    expect(new Set(got).size).toBe(20);
  });

  it('does not take a claim for stale because the message was spooled long ago', async () => {
    const dir = spoolDir();
    const daemon = new DiskSpool(dir);
    const hook = new DiskSpool(dir);
    const path = await daemon.put(message(1));
    // Spooled ten minutes ago, while the bus was down; a rename (the claim) keeps that time.
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(path, old, old);
    const sent: string[] = [];
    let release: () => void = () => undefined;
    const first = daemon.drain(async () => {
      sent.push('daemon');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await new Promise((r) => setTimeout(r, 50));
    // The next hook run drains while the daemon's send is in flight.
    expect(await hook.drain(async () => void sent.push('hook'))).toEqual({ sent: 0, failed: 0, rejected: 0 });
    release();
    expect(await first).toEqual({ sent: 1, failed: 0, rejected: 0 });
    expect(sent).toEqual(['daemon']);
  });

  it('takes over a claim left by a crashed sender once it is stale', async () => {
    const dir = spoolDir();
    const crashed = new DiskSpool(dir);
    const m = message(1);
    await crashed.put(m);
    // The crashed sender claimed the file and died before removing it.
    void crashed.drain(() => new Promise<void>(() => undefined));
    await new Promise((r) => setTimeout(r, 50));
    const [file] = readdirSync(dir);
    expect(file).toMatch(/\.sending$/);
    const fresh = new DiskSpool(dir, { staleClaimMs: 0 });
    await new Promise((r) => setTimeout(r, 5));
    const got: string[] = [];
    await fresh.drain(async (x) => void got.push(x.id));
    expect(got).toEqual([m.id]);
  });

  it('moves a file that holds no valid message aside instead of sending it', async () => {
    const dir = spoolDir();
    const spool = new DiskSpool(dir);
    await spool.put(message(1));
    writeFileSync(join(dir, '000000000000000-garbage.json'), '{"not":"a message"}');
    const got: string[] = [];
    const result = await spool.drain(async (m) => void got.push(m.id));
    expect(result).toEqual({ sent: 1, failed: 0, rejected: 1 });
    expect(readdirSync(dir).filter((f) => f.endsWith('.bad'))).toHaveLength(1);
  });
});
