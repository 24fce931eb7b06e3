// keepalive's entry point: `node dist/main.js [--config keepalive.yaml]`.
import { runDaemon } from '@deploybus/runtime';
import { keepaliveDaemon } from './keepalive.js';

await runDaemon(keepaliveDaemon);
