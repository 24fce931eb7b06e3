#!/usr/bin/env node
// git-watcher daemon: `node dist/main.js --config git-watcher.yaml`.
import { runDaemon } from '@deploybus/runtime';
import { gitWatcherDefinition } from './git-watcher.js';

await runDaemon(gitWatcherDefinition);
