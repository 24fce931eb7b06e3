#!/usr/bin/env node
// The `deploybus` command as npm links it (node_modules/.bin/deploybus). This file is committed, not
// built: npm links a workspace's bin only if its file exists at install time, and on a fresh clone
// `npm ci` runs before anything is built, so a bin pointing into dist/ was never linked and the
// README's `npx deploybus …` failed. It runs the built CLI, or says how to build it.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('deploybus: the CLI is not built yet (services/cli/dist/main.js is missing); run `npm run build` (or `npm start`) in the repository first\n');
  process.exit(78); // EX_CONFIG, as for a broken config: the installation is not ready
}
await import(main.href);
