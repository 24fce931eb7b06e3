// @deploybus/all-in-one: every daemon in one process, for `npm start` and for tests.
export { startAllInOne, SIMULATED_SERVERS, type AllInOne, type AllInOneOptions } from './all-in-one.js';
export { ensureDemoRepo, type DemoRepo } from './demo-repo.js';
export { describeEvent } from './event-lines.js';
export { DAEMONS, DAEMON_NAMES, daemonDefinition, isDaemonName, type AnyDaemonDefinition, type DaemonName } from './daemons.js';
