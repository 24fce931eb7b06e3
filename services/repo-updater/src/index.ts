// @deploybus/repo-updater: public face (filled in by the daemon's modules).
export {};
