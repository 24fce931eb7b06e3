// @deploybus/all-in-one: every daemon in one process, for `npm start` and for tests.
export { startAllInOne, type AllInOne, type AllInOneOptions } from './all-in-one.js';
export { runAllInOne } from './run-all-in-one.js';
export { DEMO_APP, DEMO_SERVERS, type DemoServer } from './demo-fleet.js';
export { ensureDemoRepo, demoTags, type DemoRepo } from './demo-repo.js';
export { describeEvent } from './event-lines.js';
export { DAEMONS, DAEMON_NAMES, daemonDefinition, isDaemonName, type AnyDaemonDefinition, type DaemonName } from './daemons.js';
