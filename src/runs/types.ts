export const RUN_STATUSES = [
  'queued',
  'running',
  'success',
  'error',
  'cancelled',
  'skipped',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type FinalRunStatus = 'success' | 'error' | 'cancelled' | 'skipped';

/** A step's outcome as written to workflow_execution_logs: one row per node per run. */
export interface StepRecord {
  nodeId: string;
  nodeType: string;
  status: 'success' | 'error' | 'skipped' | 'cancelled';
  input?: unknown;
  /** The input already serialised; used instead of `input`. */
  inputJson?: string;
  output?: unknown;
  /** The output already serialised (the engine measures its size); used instead of `output`. */
  outputJson?: string;
  errorCode?: string;
  errorMessage?: string;
  attempt: number;
  startedAt?: Date;
  completedAt?: Date;
  durationMs?: number;
}

/** What identifies one claim of a run: the lease epoch fences out a worker that lost its lease. */
export interface RunLease {
  runId: string;
  organizationId: string;
  epoch: number;
}

export interface TriggerInfo {
  type: string;
  /** Where it came from, for people: `webhook`, `api`, `cli`, `schedule:<id>`. */
  source: string;
}

export interface Attribution {
  apiKeyId?: string | null;
  userId?: string | null;
  clientIp?: string | null;
  clientCountry?: string | null;
}
