import type { RunLease, StepRecord } from './types.ts';

/**
 * Step rows travel to PostgreSQL inside one JSON array parameter, unpacked by jsonb_to_recordset: any
 * number of rows, for any number of runs, in one statement. Each output is serialised once and stored as
 * jsonb (never a JSON string inside jsonb).
 */
const STEP_RECORD_COLUMNS = `seq int, execution_id uuid, organization_id uuid, epoch bigint,
  node_id text, node_type text, status text, input jsonb, output jsonb, error_code text,
  error_message text, attempt bigint, started_at timestamptz, completed_at timestamptz,
  duration_ms bigint`;

const STEP_COLUMNS = `organization_id, execution_id, node_id, node_type, status, input, output,
  error_code, error_message, attempt, started_at, completed_at, duration_ms`;

/** A CTE body reading step rows from the JSON array in parameter `param` (e.g. `$2`). */
export function stepSource(param: string): string {
  return `select * from jsonb_to_recordset(${param}::jsonb) as s(${STEP_RECORD_COLUMNS})`;
}

/**
 * A CTE body inserting the rows of CTE `s` for which `where` holds, in the order the run took them.
 * A row already there (same run, same node) is left as it is: a step is recorded once.
 */
export function insertStepRows(where: string): string {
  return `insert into workflow_execution_logs (${STEP_COLUMNS})
    select s.organization_id, s.execution_id, s.node_id, s.node_type, s.status, s.input, s.output,
      s.error_code, s.error_message, s.attempt, s.started_at, s.completed_at, s.duration_ms
    from s
    where ${where}
    order by s.seq
    on conflict (execution_id, node_id) do nothing
    returning 1`;
}

/**
 * The rows of one run's steps, as comma-separated JSON objects (no brackets), or '' for none. `seq`
 * keeps the order the run took them in: inserts order by it, so row ids follow the run.
 */
export function stepRowsJson(lease: RunLease, steps: readonly StepRecord[]): string {
  return steps
    .map((step, seq) => {
      const row = JSON.stringify({
        seq,
        execution_id: lease.runId,
        organization_id: lease.organizationId,
        epoch: lease.epoch,
        node_id: step.nodeId,
        node_type: step.nodeType,
        status: step.status,
        error_code: step.errorCode ?? null,
        error_message: step.errorMessage ?? null,
        attempt: step.attempt,
        started_at: step.startedAt?.toISOString() ?? null,
        completed_at: step.completedAt?.toISOString() ?? null,
        duration_ms: step.durationMs ?? null,
      });
      // Splice input and output in as they were serialised, instead of serialising them twice.
      const input = step.inputJson ?? JSON.stringify(step.input ?? null);
      const output = step.outputJson ?? JSON.stringify(step.output ?? null);
      return `${row.slice(0, -1)},"input":${input},"output":${output}}`;
    })
    .join(',');
}

/** Approximate bytes of a batch item, for the batcher's size cap. */
export function stepBytes(steps: readonly StepRecord[]): number {
  let bytes = 256 * steps.length;
  for (const step of steps) bytes += step.outputJson?.length ?? 1_024;
  return bytes;
}
