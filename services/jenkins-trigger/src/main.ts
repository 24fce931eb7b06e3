// jenkins-trigger's entry point: `node dist/main.js --config /etc/deploybus/jenkins-trigger.yaml`.
import { runDaemon } from '@deploybus/runtime';
import { jenkinsTrigger } from './jenkins-trigger.js';

await runDaemon(jenkinsTrigger);
