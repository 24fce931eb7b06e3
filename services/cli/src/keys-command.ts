// `deploybus keys generate`: a new Ed25519 key pair for signing agent commands. The private key
// (PKCS#8 PEM, mode 0600) goes to the conductor's config; the public key (SPKI PEM) to every
// agent's trustedKeys under the same key id. Existing files are never overwritten.
import { randomBytes } from 'node:crypto';
import { mkdir, open, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { generateSigningKeyPair } from '@deploybus/protocol';
import { CliError, EXIT } from './cli-errors.js';
import { printJson, type CliIo } from './cli-io.js';

/** A key id is also a file name here: letters, digits, "_", "-", ".", not starting with "." or "-". */
export const KEY_ID_PATTERN = /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface GeneratedKeys {
  readonly keyId: string;
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
}

export async function generateKeys(options: { outDir: string; keyId?: string | undefined; now?: Date }): Promise<GeneratedKeys> {
  const stamp = (options.now ?? new Date()).toISOString().slice(0, 10).replace(/-/g, '');
  const keyId = options.keyId ?? `deploybus-${stamp}-${randomBytes(3).toString('hex')}`;
  if (!KEY_ID_PATTERN.test(keyId)) {
    throw new CliError('INVALID_INPUT', `key id ${JSON.stringify(keyId)} must be 1 to 128 letters, digits, "_", "-" or ".", not starting with "." or "-"`, EXIT.usage);
  }
  const { privateKey, publicKey } = generateSigningKeyPair();
  try {
    await mkdir(options.outDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new CliError('WRITE_FAILED', `cannot create ${options.outDir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, EXIT.failed, { cause: error });
  }
  const privateKeyPath = resolve(options.outDir, `${keyId}.key`);
  const publicKeyPath = resolve(options.outDir, `${keyId}.pub`);
  await writeNew(privateKeyPath, privateKey, 0o600);
  try {
    await writeNew(publicKeyPath, publicKey, 0o644);
  } catch (error) {
    await unlink(privateKeyPath).catch(() => undefined);
    throw error;
  }
  return { keyId, privateKeyPath, publicKeyPath };
}

/** Creates the file (never replacing one) with exactly `mode`. */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError('WRITE_FAILED', `${path} already exists; it is not overwritten (choose another --key-id or --out)`, EXIT.failed);
    throw new CliError('WRITE_FAILED', `cannot write ${path} (${code ?? String(error)})`, EXIT.failed, { cause: error });
  }
  try {
    await handle.chmod(mode); // open() applies the umask; the mode is set exactly here
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function registerKeysCommand(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('signing keys for agent commands (Ed25519).');
  keys
    .command('generate')
    .description('write a new Ed25519 key pair: <id>.key (private, mode 0600, for the conductor) and <id>.pub (public, for agents\' trustedKeys). Never overwrites.')
    .requiredOption('--out <dir>', 'directory to write the two files into (created, mode 0700, if missing)')
    .option('--key-id <id>', 'the key id agents know the public key by (default: deploybus-<date>-<random>)')
    .option('--json', 'print the key id and both paths as one JSON document')
    .addHelpText('after', '\nExamples:\n  deploybus keys generate --out /etc/deploybus/keys\n  deploybus keys generate --out ./keys --key-id conductor-2026')
    .action(async (opts: { out: string; keyId?: string; json?: boolean }) => {
      const result = await generateKeys({ outDir: resolve(io.cwd, opts.out), keyId: opts.keyId });
      if (opts.json) return printJson(io, result);
      io.stdout(`key id: ${result.keyId}\nprivate key: ${result.privateKeyPath}\npublic key: ${result.publicKeyPath}\n`);
    });
}
