import type pg from 'pg';
import { insertStepRows, stepRowsJson, stepSource } from './step-rows.ts';
import type { RunLease, StepRecord } from './types.ts';

const RECORD_STEPS = `
  with s as (
    ${stepSource('$1')}
  ), lease as (
    select e.id, e.cancel_requested_at
    from workflow_executions e
    join (select distinct execution_id, organization_id, epoch from s) held
      on held.execution_id = e.id and held.organization_id = e.organization_id
     and held.epoch = e.lease_epoch
    where e.status = 'running'
    for share of e
  ), inserted as (
    ${insertStepRows('s.execution_id in (select id from lease)')}
  )
  select lease.id, lease.cancel_requested_at is not null as cancel_requested from lease`;

export interface RecordStepsResult {
  /** False when this worker no longer holds the run: another worker claimed it. Stop at once. */
  leased: boolean;
  cancelRequested: boolean;
}

export interface StepBatchItem {
  lease: RunLease;
  steps: readonly StepRecord[];
}

/**
 * Commits step rows, the checkpoint of a run: a step's dependants start only after this returns. Each run
 * row is share-locked and its lease epoch checked in the same statement, so a worker that lost its lease
 * writes nothing, and a worker claiming the run waits for this commit and then sees these steps. The
 * answer carries each run's cancellation flag for free: that is how a cancel request made in another
 * process reaches the worker, at the next step boundary. Any number of runs share the statement.
 */
export async function recordStepsBatch(
  db: pg.Pool,
  items: readonly StepBatchItem[],
): Promise<RecordStepsResult[]> {
  const result = await db.query<{ id: string; cancel_requested: boolean }>({
    name: 'vigil_record_steps',
    text: RECORD_STEPS,
    values: [
      `[${items
        .map((item) => stepRowsJson(item.lease, item.steps))
        .filter(Boolean)
        .join(',')}]`,
    ],
  });
  const held = new Map(result.rows.map((row) => [row.id, row.cancel_requested]));
  return items.map((item) => ({
    leased: held.has(item.lease.runId),
    cancelRequested: held.get(item.lease.runId) === true,
  }));
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
