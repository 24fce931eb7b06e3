// conductor's entry point: `node dist/main.js [--config conductor.yaml]`.
import { runDaemon } from '@deploybus/runtime';
import { conductorDaemon } from './conductor.js';

await runDaemon(conductorDaemon);
