import type pg from 'pg';
import { STEP_COLUMNS, STEP_VALUES, stepRowsFrom, stepRowsJson } from './step-rows.ts';
import type { FinalRunStatus, RunLease, StepRecord } from './types.ts';

const FINALIZE = `
  with lease as (
    select id from workflow_executions
    where id = $1 and organization_id = $2 and lease_epoch = $3 and status = 'running'
    for update
  ), inserted as (
    insert into workflow_execution_logs (${STEP_COLUMNS})
    select $2, $1, ${STEP_VALUES}
    from ${stepRowsFrom('$4')}
    where exists (select 1 from lease)
    on conflict (execution_id, node_id) do nothing
    returning 1
  )
  update workflow_executions e
  set status = $5, output = $6::jsonb, error_code = $7, error_message = $8,
      completed_at = now(),
      duration_ms = greatest(0, round(extract(epoch from now() - e.started_at) * 1000))::bigint,
      lease_owner = null, lease_expires_at = null
  from lease
  where e.id = lease.id
  returning e.status`;

export interface FinalizeParams {
  status: FinalRunStatus;
  /** JSON text of the run's output (the last step's output), or null. */
  outputJson: string | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  /** Step rows not yet committed (the last step, skipped branches): written in the same statement. */
  steps?: readonly StepRecord[];
}

/**
 * Ends a run: one UPDATE that also inserts the final step rows, guarded by the lease epoch and by the
 * status still being `running`, so a run is finalized exactly once even if two workers race after a
 * lease expired. Returns false when this worker no longer held the run.
 */
export async function finalizeRun(
  db: pg.Pool,
  lease: RunLease,
  params: FinalizeParams,
): Promise<boolean> {
  const result = await db.query({
    name: 'vigil_finalize_run',
    text: FINALIZE,
    values: [
      lease.runId,
      lease.organizationId,
      lease.epoch,
      stepRowsJson(params.steps ?? []),
      params.status,
      params.outputJson,
      params.errorCode ?? null,
      params.errorMessage ?? null,
    ],
  });
  return result.rowCount === 1;
}
