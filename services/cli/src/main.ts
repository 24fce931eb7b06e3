#!/usr/bin/env node
// The `deploybus` executable.
import { defaultCliPath, runCli } from './cli-program.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin,
  nodePath: process.execPath,
  cliPath: defaultCliPath(),
});
// Exit now: a bus client's timers must not keep a git hook waiting.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
