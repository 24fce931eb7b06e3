// What a launcher needs to start the agent as its own node process: its entry point and its node
// flags. Apart from index.ts so that a launcher (the CLI's `deploybus deploy-agent`) loads nothing
// else of the agent's code into its own process.
import { fileURLToPath } from 'node:url';

export { AGENT_NODE_FLAGS } from './node-flags.js';

/** dist/main.js, the agent's entry point (config -> logger -> bus -> start; SIGTERM/SIGINT stop it). */
export const AGENT_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
