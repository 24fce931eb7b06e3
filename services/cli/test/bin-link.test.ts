// The command npm links as `deploybus`: a committed file (npm links a workspace's bin only if the file
// exists when `npm ci` runs, before any build), which runs the built CLI or says how to build it.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const cliDir = resolve(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
const bin = manifest.bin['deploybus'] ?? '';
const scratch = mkdtempSync(join(tmpdir(), 'deploybus-bin-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('links a committed, executable file, not one that only a build makes', () => {
  expect(bin).not.toMatch(/^(\.\/)?dist\//);
  const tracked = execFileSync('git', ['ls-files', '--stage', '--', bin], { cwd: cliDir, encoding: 'utf8' });
  expect(tracked, `${bin} must be committed`).toMatch(/^100755 /);
  expect(statSync(join(cliDir, bin)).mode & 0o111).not.toBe(0);
  expect(manifest.files).toContain(bin.split('/')[0]);
});

it('runs the built CLI', () => {
  const run = spawnSync(process.execPath, [join(cliDir, bin), '--help'], { encoding: 'utf8', timeout: 30_000 });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/Usage: deploybus/);
});

it('says how to build when the CLI is not built, and exits 78', () => {
  mkdirSync(join(scratch, 'bin'));
  copyFileSync(join(cliDir, bin), join(scratch, 'bin', 'deploybus.js'));
  const run = spawnSync(process.execPath, [join(scratch, 'bin', 'deploybus.js'), 'status', 'demo'], { encoding: 'utf8', timeout: 30_000 });
  expect(run.status).toBe(78);
  expect(run.stderr).toMatch(/not built yet .*dist\/main\.js is missing.*npm run build/);
});
