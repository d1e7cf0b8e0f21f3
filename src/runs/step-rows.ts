import type { StepRecord } from './types.ts';

/**
 * Steps travel to PostgreSQL as one JSON array parameter unpacked by jsonb_to_recordset: any number of
 * step rows in one statement, each output serialised once and stored as jsonb (never a JSON string).
 * `param` is the placeholder of that parameter, e.g. `$4`.
 */
export function stepRowsFrom(param: string): string {
  return `jsonb_to_recordset(${param}::jsonb) as s(
    node_id text, node_type text, status text, input jsonb, output jsonb, error_code text,
    error_message text, attempt bigint, started_at timestamptz, completed_at timestamptz,
    duration_ms bigint)`;
}

export const STEP_COLUMNS = `organization_id, execution_id, node_id, node_type, status, input, output,
  error_code, error_message, attempt, started_at, completed_at, duration_ms`;

export const STEP_VALUES = `s.node_id, s.node_type, s.status, s.input, s.output, s.error_code,
  s.error_message, s.attempt, s.started_at, s.completed_at, s.duration_ms`;

export function stepRowsJson(steps: readonly StepRecord[]): string {
  const rows = steps.map((step) => {
    const row = JSON.stringify({
      node_id: step.nodeId,
      node_type: step.nodeType,
      status: step.status,
      input: step.input ?? null,
      error_code: step.errorCode ?? null,
      error_message: step.errorMessage ?? null,
      attempt: step.attempt,
      started_at: step.startedAt?.toISOString() ?? null,
      completed_at: step.completedAt?.toISOString() ?? null,
      duration_ms: step.durationMs ?? null,
    });
    // Splice the output in as it was serialised, instead of serialising a large value twice.
    const output = step.outputJson ?? JSON.stringify(step.output ?? null);
    return `${row.slice(0, -1)},"output":${output}}`;
  });
  return `[${rows.join(',')}]`;
}
