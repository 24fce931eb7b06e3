// notifier's entry point: `node dist/main.js [--config notifier.yaml]`.
import { runDaemon } from '@deploybus/runtime';
import { notifierDaemon } from './notifier.js';

await runDaemon(notifierDaemon);
