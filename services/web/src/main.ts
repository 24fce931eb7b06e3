// The web's entry point: `node dist/main.js [--config web.yaml]`.
import { runDaemon } from '@deploybus/runtime';
import { webDaemon } from './web.js';

await runDaemon(webDaemon);
