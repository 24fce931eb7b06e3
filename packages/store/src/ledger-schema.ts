// The ledger's tables as Kysely sees them. Times are ISO-8601 UTC strings (Date#toISOString, so they sort
// as text on both engines); JSON columns are text; "absent" is NULL.
import type { Generated } from 'kysely';

export interface EventsTable {
  seq: Generated<number>;
  id: string;
  type: string;
  deployment_id: string | null;
  app: string | null;
  env: string | null;
  time: string;
  payload: string;
}

export interface DeploymentsTable {
  seq: Generated<number>;
  id: string;
  app: string;
  env: string;
  ref: string;
  sha: string | null;
  requested_by: string;
  state: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  options: string;
  reason: string | null;
}

export interface HostResultsTable {
  deployment_id: string;
  host: string;
  outcome: string;
  release: string | null;
  duration_ms: number | null;
  error: string | null;
  at: string;
}

export interface TaskLogsTable {
  deployment_id: string;
  host: string;
  seq: number;
  stream: string;
  line: string;
  at: string;
}

export interface ReleasesTable {
  app: string;
  env: string;
  host: string;
  release: string;
  ref: string;
  sha: string | null;
  at: string;
}

export interface LocksTable {
  env: string;
  /** '' locks the whole environment (NULL would not be unique in a primary key on PostgreSQL). */
  app: string;
  locked_by: string;
  reason: string;
  at: string;
}

export interface BuildsTable {
  repo: string;
  sha: string;
  job: string;
  number: number;
  status: string;
  url: string | null;
  at: string;
}

export interface LeasesTable {
  key: string;
  owner: string;
  acquired_at: string;
  expires_at: string;
}

export interface LedgerDatabase {
  ledger_events: EventsTable;
  ledger_deployments: DeploymentsTable;
  ledger_host_results: HostResultsTable;
  ledger_task_logs: TaskLogsTable;
  ledger_releases: ReleasesTable;
  ledger_locks: LocksTable;
  ledger_builds: BuildsTable;
  ledger_leases: LeasesTable;
}
