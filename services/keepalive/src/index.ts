// @deploybus/keepalive: the daemon that keeps the presence roster from every daemon's heartbeats.
export { keepaliveDaemon, keepaliveConfigSchema, PresenceMonitor, KEEPALIVE_VERSION, type KeepaliveConfig, type PresenceMonitorOptions } from './keepalive.js';
export { Roster, fitEntries, type Clock, type HeartbeatPayload, type PresenceChange, type PresenceState, type RosterEntry, type RosterFilter, type RosterOptions } from './roster.js';
