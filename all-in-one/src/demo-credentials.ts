// The demo's sign-in: user "admin" with a random password, an API token for scripts and the CLI, and
// the web's session secret. Made once (files of mode 0600 under <data>/secrets) and reused, so a
// bookmarked session and a token in a script survive restarts; `npm start` prints them.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEMO_USER = 'admin';

export interface DemoCredentials {
  readonly user: string;
  readonly password: string;
  readonly token: string;
  /** The files the web daemon's config names as its secrets. */
  readonly files: { readonly password: string; readonly token: string; readonly sessionSecret: string };
}

export function ensureDemoCredentials(dataDir: string): DemoCredentials {
  const dir = join(dataDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { password: join(dir, 'admin-password'), token: join(dir, 'api-token'), sessionSecret: join(dir, 'session-secret') };
  const secret = (file: string, bytes: number): string => {
    if (!existsSync(file)) writeFileSync(file, randomBytes(bytes).toString('base64url'), { mode: 0o600 });
    return readFileSync(file, 'utf8').trim();
  };
  const password = secret(files.password, 12);
  const token = secret(files.token, 24);
  secret(files.sessionSecret, 32);
  return { user: DEMO_USER, password, token, files };
}
