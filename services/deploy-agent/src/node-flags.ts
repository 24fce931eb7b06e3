// The node flags every shipped launcher of the deploy-agent daemon passes before dist/main.js: the
// systemd units (deploy/systemd/*agent*), the container entry point (deploy/docker/entrypoint.sh),
// `deploybus deploy-agent` and the bench's idle-RSS measurement, which read them from here (launch.ts).
// test/node-flags.test.ts holds the launchers to this list.
//
// Why: an idle agent must stay under 60 MB RSS from its first seconds. Without flags it sat near 67 MB
// 3 s after start and only fell below 60 MB once V8's memory reducer ran, about 8 s after start-up's
// last full GC. Measured 3 s after "deploy-agent started" (node 20, YAML config, 3 runs), from 68 MB:
// - --max-semi-space-size=1: the young generation stays at 1 MB per semi-space instead of growing to
//   8 MB during start-up and keeping it (about -5 MB).
// - --no-opt: no TurboFan. Start-up's hot loops (schema building) no longer page in the optimizing
//   compiler's code or keep optimized code (about -4 MB). An agent's work is git and hook processes,
//   with little JavaScript of its own per deploy, so the interpreter and baseline compiler serve it.
// - --optimize-for-size: V8 favours memory in its GC heuristics (about -1 MB more).
// None of them can be set from inside the process: the heap's sizes are fixed when the isolate is
// made, before main.ts runs (v8.setFlagsFromString('--max-semi-space-size=1') there changed nothing).
// Not used: --jitless and --lite-mode (which implies it) save more, but remove WebAssembly, and with it
// fetch (undici's HTTP parser is WebAssembly), which the agent's HTTP health checks use.
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--no-opt', '--optimize-for-size']);
