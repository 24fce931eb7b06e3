// deploy-agent's entry point: config -> logger -> bus -> start, stopped by SIGTERM/SIGINT.
import { runDaemon } from '@deploybus/runtime';
import { deployAgent } from './deploy-agent.js';

await runDaemon(deployAgent);
