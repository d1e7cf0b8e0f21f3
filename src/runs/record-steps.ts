import type pg from 'pg';
import { STEP_COLUMNS, STEP_VALUES, stepRowsFrom, stepRowsJson } from './step-rows.ts';
import type { RunLease, StepRecord } from './types.ts';

const RECORD_STEPS = `
  with lease as (
    select cancel_requested_at from workflow_executions
    where id = $1 and organization_id = $2 and lease_epoch = $3 and status = 'running'
    for share
  ), inserted as (
    insert into workflow_execution_logs (${STEP_COLUMNS})
    select $2, $1, ${STEP_VALUES}
    from ${stepRowsFrom('$4')}
    where exists (select 1 from lease)
    on conflict (execution_id, node_id) do nothing
    returning 1
  )
  select exists (select 1 from lease) as leased,
         coalesce((select cancel_requested_at is not null from lease), false) as cancel_requested,
         (select count(*) from inserted) as inserted`;

export interface RecordStepsResult {
  /** False when this worker no longer holds the run: another worker claimed it. Stop at once. */
  leased: boolean;
  cancelRequested: boolean;
}

/**
 * Commits step rows, the checkpoint of a run: a step's dependants start only after this returns. The run
 * row is share-locked and its lease epoch checked in the same statement, so a worker that lost its lease
 * writes nothing, and a worker claiming the run waits for this commit and then sees these steps. The
 * answer carries the run's cancellation flag for free, which is how cancellation reaches a worker in
 * another process at the next step boundary.
 */
export async function recordSteps(
  db: pg.Pool,
  lease: RunLease,
  steps: readonly StepRecord[],
): Promise<RecordStepsResult> {
  const result = await db.query<{ leased: boolean; cancel_requested: boolean }>({
    name: 'vigil_record_steps',
    text: RECORD_STEPS,
    values: [lease.runId, lease.organizationId, lease.epoch, stepRowsJson(steps)],
  });
  const row = result.rows[0];
  return { leased: row?.leased === true, cancelRequested: row?.cancel_requested === true };
}

export interface CommittedStep {
  nodeId: string;
  status: string;
  output: unknown;
}

/** The steps a run already committed, for a worker resuming it. */
export async function loadCommittedSteps(db: pg.Pool, lease: RunLease): Promise<CommittedStep[]> {
  const result = await db.query<{ node_id: string; status: string; output: unknown }>({
    name: 'vigil_load_steps',
    text: `select node_id, status, output from workflow_execution_logs
           where execution_id = $1 and organization_id = $2`,
    values: [lease.runId, lease.organizationId],
  });
  return result.rows.map((row) => ({
    nodeId: row.node_id,
    status: row.status,
    output: row.output,
  }));
}
