// @deploybus/store: the ledger's persistence.
export {};
