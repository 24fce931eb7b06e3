#!/usr/bin/env node
// The `deploybus` executable.
import { defaultCliPath, runCli } from './cli-program.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// Ctrl-C is only taken over by commands that follow something live and ask for `signal`: they stop
// following and say how to go on. A second Ctrl-C, or a command that does not stop in time, exits at
// once. Daemons (`up`, `deploybus conductor` ...) never ask, so their own graceful stop is untouched.
const interrupt = new AbortController();
let watching = false;
const watchInterrupts = (): AbortSignal => {
  if (!watching) {
    watching = true;
    process.on('SIGINT', () => {
      if (interrupt.signal.aborted) process.exit(130);
      interrupt.abort();
      setTimeout(() => process.exit(130), 3_000).unref();
    });
  }
  return interrupt.signal;
};

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin,
  nodePath: process.execPath,
  cliPath: defaultCliPath(),
  stdoutIsTty: process.stdout.isTTY === true,
  columns: process.stdout.columns || 80,
  get signal() {
    return watchInterrupts();
  },
});
// Exit now: a bus client's timers must not keep a git hook waiting.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
