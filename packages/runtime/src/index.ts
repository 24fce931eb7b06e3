// @deploybus/runtime: what every daemon shares (config, logging, lifecycle, heartbeats, disk spool).
export { ConfigError } from './errors.js';
export { Secret, secretSchema } from './secret.js';
export { loadConfig, readConfigFile, daemonConfigSchema, commonConfigShape, configuredHost, type Env, type LoadConfigOptions } from './config.js';
export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export { startHeartbeats, type HeartbeatApps, type HeartbeatOptions } from './heartbeat.js';
export { DiskSpool, type DrainResult, type SpoolOptions } from './spool.js';
export { startDaemon, runDaemon, configFileFrom, type DaemonContext, type DaemonDefinition, type DaemonHandle, type RunningDaemon, type StartOptions } from './daemon.js';
export { createMetrics, type DaemonMetrics } from './metrics.js';
export { startHealthServer, type HealthServer, type HealthServerOptions } from './health-server.js';
export { writeFileAtomic, type AtomicWriteOptions } from './atomic-file.js';
export { describeSchemaIssue, formatIssuePath, type SchemaProblem } from './schema-issue.js';
export { listenHttp, ListenError, type ListeningServer, type ListenOptions } from './http-listen.js';
