import type pg from 'pg';
import { insertStepRows, stepRowsJson, stepSource } from './step-rows.ts';
import type { FinalRunStatus, RunLease, StepRecord } from './types.ts';

const FINALIZE = `
  with f as (
    select * from jsonb_to_recordset($1::jsonb) as f(
      id uuid, organization_id uuid, epoch bigint, status text, output jsonb, error_code text,
      error_message text)
  ), lease as (
    select e.id from workflow_executions e
    join f on f.id = e.id and f.organization_id = e.organization_id and f.epoch = e.lease_epoch
    where e.status = 'running'
    for update of e
  ), s as (
    ${stepSource('$2')}
  ), inserted as (
    ${insertStepRows('s.execution_id in (select id from lease)')}
  )
  update workflow_executions e
  set status = f.status, output = f.output, error_code = f.error_code,
      error_message = f.error_message, completed_at = now(),
      duration_ms = greatest(0, round(extract(epoch from now() - e.started_at) * 1000))::bigint,
      lease_owner = null, lease_expires_at = null
  from f
  where e.id = f.id and e.id in (select id from lease)
  returning e.id`;

export interface FinalizeParams {
  status: FinalRunStatus;
  /** JSON text of the run's output (the last step's output), or null. */
  outputJson: string | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  /** Step rows not yet committed (the last step, skipped branches): written in the same statement. */
  steps?: readonly StepRecord[];
}

export interface FinalizeItem {
  lease: RunLease;
  params: FinalizeParams;
}

/**
 * Ends runs: one UPDATE that also inserts their final step rows, guarded by each lease epoch and by the
 * status still being `running`, so a run is finalized exactly once even if two workers race after a lease
 * expired. Returns, per item, false when this worker no longer held the run.
 */
export async function finalizeRuns(
  db: pg.Pool,
  items: readonly FinalizeItem[],
): Promise<boolean[]> {
  const runs = items.map(({ lease, params }) => {
    const row = JSON.stringify({
      id: lease.runId,
      organization_id: lease.organizationId,
      epoch: lease.epoch,
      status: params.status,
      error_code: params.errorCode ?? null,
      error_message: params.errorMessage ?? null,
    });
    return `${row.slice(0, -1)},"output":${params.outputJson ?? 'null'}}`;
  });
  const steps = items
    .map(({ lease, params }) => stepRowsJson(lease, params.steps ?? []))
    .filter(Boolean);
  const result = await db.query<{ id: string }>({
    name: 'vigil_finalize_runs',
    text: FINALIZE,
    values: [`[${runs.join(',')}]`, `[${steps.join(',')}]`],
  });
  const done = new Set(result.rows.map((row) => row.id));
  return items.map((item) => done.has(item.lease.runId));
}

export async function finalizeRun(
  db: pg.Pool,
  lease: RunLease,
  params: FinalizeParams,
): Promise<boolean> {
  const [done] = await finalizeRuns(db, [{ lease, params }]);
  return done === true;
}
