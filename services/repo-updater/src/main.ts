// repo-updater's entry point: config -> logger -> bus -> start, stopped by SIGTERM/SIGINT.
import { runDaemon } from '@deploybus/runtime';
import { repoUpdater } from './repo-updater.js';

await runDaemon(repoUpdater);
