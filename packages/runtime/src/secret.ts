// Secrets in config are references ({ env: NAME } or { file: PATH }), resolved once at start. The
// resolved value prints as "[secret]" in logs, JSON and inspection, so it cannot leak by accident.
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { z } from 'zod';

export class Secret {
  #value: string | undefined;
  constructor(readonly from: { readonly env: string } | { readonly file: string }) {}

  /** The secret's value. Throws if it was never resolved (a bug, not a user error). */
  reveal(): string {
    if (this.#value === undefined) throw new Error(`secret from ${describeSource(this.from)} was not resolved`);
    return this.#value;
  }

  /** Reads the value; returns a problem sentence instead of throwing. */
  resolve(env: Readonly<Record<string, string | undefined>>): string | undefined {
    if ('env' in this.from) {
      const value = env[this.from.env];
      if (value === undefined || value === '') return `environment variable ${this.from.env} is not set`;
      this.#value = value;
      return undefined;
    }
    try {
      const value = readFileSync(this.from.file, 'utf8').replace(/\r?\n$/, '');
      if (value === '') return `secret file ${this.from.file} is empty`;
      this.#value = value;
      return undefined;
    } catch (error) {
      return `secret file ${this.from.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    }
  }

  toJSON(): string {
    return '[secret]';
  }

  toString(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return '[secret]';
  }
}

function describeSource(from: Secret['from']): string {
  return 'env' in from ? `$${from.env}` : from.file;
}

/** Config schema of a secret: `{ "env": "NAME" }` or `{ "file": "/path" }`, never the value itself. */
export const secretSchema = z
  .union([z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name') }), z.strictObject({ file: z.string().min(1) })], {
    error: 'must be { "env": "VARIABLE" } or { "file": "/path/to/secret" }: secrets never stand in a config file',
  })
  .transform((from) => new Secret(from));
