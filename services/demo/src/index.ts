export { startDemo, type DemoOptions, type RunningDemo } from './demo-fleet.js';
