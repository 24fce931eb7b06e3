// The hook runner against real programs: output lines, exit codes, a missing program, timeouts.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand, type OutputLine } from '../src/index.js';

const node = process.execPath;

async function run(argv: string[], timeoutMs = 10_000, env: Record<string, string> = {}): Promise<{ outcome: Awaited<ReturnType<typeof runCommand>>; lines: OutputLine[] }> {
  const lines: OutputLine[] = [];
  const outcome = await runCommand({ argv, cwd: tmpdir(), env, timeoutMs, onLine: (line) => lines.push(line) });
  return { outcome, lines };
}

describe('runCommand', () => {
  it('streams stdout and stderr line by line, a multi-byte character split across writes intact, the last line without a newline too', async () => {
    const script = 'process.stdout.write(Buffer.from([0x68,0xc3]));setTimeout(()=>{process.stdout.write(Buffer.from([0xa9,0x0a]));console.error("warn");process.stdout.write("tail")},50)';
    const { outcome, lines } = await run([node, '-e', script]);
    expect(outcome).toEqual({ exitCode: 0, timedOut: false, problem: undefined, lastLines: expect.arrayContaining(['hé', 'warn', 'tail']) as unknown });
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual(['hé', 'tail']);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.text)).toEqual(['warn']);
  });

  it('reports the exit code and keeps the last 20 lines', async () => {
    const { outcome } = await run([node, '-e', 'for(let i=0;i<30;i++)console.log("line "+i);process.exit(7)']);
    expect(outcome.exitCode).toBe(7);
    expect(outcome.problem).toBeUndefined();
    expect(outcome.lastLines).toHaveLength(20);
    expect(outcome.lastLines.at(-1)).toBe('line 29');
  });

  it('runs with a minimal environment plus the one given, never the agent\'s own', async () => {
    process.env['DEPLOYBUS_TEST_SECRET'] = 'agent-only';
    try {
      const { lines } = await run([node, '-e', 'console.log(JSON.stringify([process.env.DEPLOYBUS_TEST_SECRET ?? null, process.env.DEPLOYBUS_APP]))'], 10_000, { DEPLOYBUS_APP: 'shop' });
      expect(JSON.parse(lines[0]!.text)).toEqual([null, 'shop']);
    } finally {
      delete process.env['DEPLOYBUS_TEST_SECRET'];
    }
  });

  it('a program that does not exist is a problem named, not a crash', async () => {
    const { outcome } = await run(['/nonexistent/deploybus-hook', 'x']);
    expect(outcome).toMatchObject({ exitCode: -1, timedOut: false, problem: 'could not run /nonexistent/deploybus-hook (ENOENT)' });
  });

  it('ends when the program exits, though a process it left in the background still holds its output', async () => {
    const started = Date.now();
    // A restart hook that starts a server in the background and exits at once.
    const { outcome, lines } = await run(['sh', '-c', 'echo starting; sleep 30.31 & echo started'], 10_000);
    expect(outcome).toMatchObject({ exitCode: 0, timedOut: false, problem: undefined });
    expect(lines.map((l) => l.text)).toEqual(['starting', 'started']);
    expect(Date.now() - started).toBeLessThan(10_000); // not the background sleep's 30 s, nor the timeout
    // The background process was left running (a server must outlive its restart hook).
    expect(execFileSync('sh', ['-c', 'pgrep -f "^sleep 30.31$" || true'], { encoding: 'utf8' })).not.toBe('');
    execFileSync('sh', ['-c', 'pkill -f "^sleep 30.31$" || true']);
  });

  it('a timeout stops what the program started too, not only the program', async () => {
    const marker = join(tmpdir(), `deploybus-grandchild-${process.pid}-${Date.now()}`);
    const { outcome } = await run(['sh', '-c', `echo installing; sleep 30.32; touch ${marker}`], 500);
    expect(outcome).toMatchObject({ timedOut: true, problem: 'killed after 500 ms' });
    // sh got SIGTERM with its group: the sleep is gone, so nothing after it ever runs.
    expect(execFileSync('sh', ['-c', 'pgrep -f "^sleep 30.32$" || true'], { encoding: 'utf8' })).toBe('');
    expect(existsSync(marker)).toBe(false);
  });

  it('a program killed by a signal is reported with the signal', async () => {
    const { outcome } = await run(['sh', '-c', 'kill -KILL $$']);
    expect(outcome).toMatchObject({ exitCode: -1, timedOut: false, problem: 'sh was killed by SIGKILL' });
  });

  it('a program past its timeout is stopped and reported so', async () => {
    const { outcome, lines } = await run([node, '-e', 'console.log("started");setInterval(()=>{},1000)'], 500);
    expect(outcome).toMatchObject({ timedOut: true, problem: 'killed after 500 ms' });
    expect(lines.map((l) => l.text)).toEqual(['started']);
  });
});
