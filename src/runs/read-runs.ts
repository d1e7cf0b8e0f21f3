import type pg from 'pg';
import { decodeCursor, encodeCursor } from '../db/keyset-cursor.ts';
import { VigilError } from '../errors.ts';
import { getNodeDefinition } from '../nodes/catalog.ts';
import type { RunStatus } from './types.ts';

export interface RunView {
  id: string;
  workflowId: string;
  workflowVersion: number;
  status: RunStatus;
  triggerType: string;
  triggerSource: string | null;
  input: unknown;
  output: unknown;
  error: { code: string; message: string } | null;
  queuedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number | null;
  transactionHashes: string[];
  cancelRequested: boolean;
}

export interface StepView {
  nodeId: string;
  nodeType: string;
  status: string;
  input: unknown;
  output: unknown;
  error: { code: string; message: string } | null;
  attempts: number;
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number | null;
}

const RUN_COLUMNS = `id, workflow_id, workflow_version, status, trigger_type, trigger_source, input,
  output, error_code, error_message, queued_at, started_at, completed_at, duration_ms,
  transaction_hashes, cancel_requested_at is not null as cancel_requested, queued_at::text as cursor_at`;

interface RunRow {
  id: string;
  workflow_id: string;
  workflow_version: number;
  status: RunStatus;
  trigger_type: string;
  trigger_source: string | null;
  input: unknown;
  output: unknown;
  error_code: string | null;
  error_message: string | null;
  queued_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  duration_ms: number | null;
  transaction_hashes: string[];
  cancel_requested: boolean;
  cursor_at: string;
}

function toRunView(row: RunRow, includeInput: boolean): RunView {
  return {
    id: row.id,
    workflowId: row.workflow_id,
    workflowVersion: row.workflow_version,
    status: row.status,
    triggerType: row.trigger_type,
    triggerSource: row.trigger_source,
    input: includeInput ? row.input : undefined,
    output: row.output,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    queuedAt: row.queued_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    completedAt: row.completed_at?.toISOString() ?? null,
    durationMs: row.duration_ms,
    transactionHashes: row.transaction_hashes,
    cancelRequested: row.cancel_requested,
  };
}

/** One run with its steps in the order they finished. */
export async function getRun(
  db: pg.Pool,
  organizationId: string,
  runId: string,
): Promise<RunView & { steps: StepView[] }> {
  const run = await db.query<RunRow>({
    name: 'vigil_get_run',
    text: `select ${RUN_COLUMNS} from workflow_executions where id = $1 and organization_id = $2`,
    values: [runId, organizationId],
  });
  const row = run.rows[0];
  if (!row) throw new VigilError('RUN_NOT_FOUND', `No run ${runId} in this organization`);
  const steps = await db.query<{
    node_id: string;
    node_type: string;
    status: string;
    input: unknown;
    output: unknown;
    error_code: string | null;
    error_message: string | null;
    attempt: number;
    started_at: Date | null;
    completed_at: Date | null;
    duration_ms: number | null;
  }>({
    name: 'vigil_get_run_steps',
    text: `select node_id, node_type, status, input, output, error_code, error_message, attempt,
                  started_at, completed_at, duration_ms
           from workflow_execution_logs
           where execution_id = $1 and organization_id = $2
           order by id`,
    values: [runId, organizationId],
  });
  return {
    ...toRunView(row, true),
    steps: steps.rows.map((s) => ({
      nodeId: s.node_id,
      nodeType: s.node_type,
      status: s.status,
      input: s.input,
      // The trigger's output is the run's input, stored once on the run row.
      output: getNodeDefinition(s.node_type)?.kind === 'trigger' ? row.input : s.output,
      error: s.error_code ? { code: s.error_code, message: s.error_message ?? '' } : null,
      attempts: s.attempt,
      startedAt: s.started_at?.toISOString() ?? null,
      completedAt: s.completed_at?.toISOString() ?? null,
      durationMs: s.duration_ms,
    })),
  };
}

export interface ListRunsParams {
  workflowId?: string;
  status?: RunStatus;
  limit: number;
  cursor?: string;
}

/**
 * Runs of an organization, newest first, by keyset pagination on (queued_at, id): a page costs the same
 * at any depth, and runs arriving meanwhile neither shift nor repeat rows. The cursor carries queued_at
 * as PostgreSQL's own text, so no microsecond is lost on the way through JavaScript.
 */
export async function listRuns(
  db: pg.Pool,
  organizationId: string,
  params: ListRunsParams,
): Promise<{ items: RunView[]; nextCursor: string | null }> {
  const where = ['organization_id = $1'];
  const values: unknown[] = [organizationId];
  if (params.workflowId) {
    values.push(params.workflowId);
    where.push(`workflow_id = $${values.length}`);
  }
  if (params.status) {
    values.push(params.status);
    where.push(`status = $${values.length}`);
  }
  if (params.cursor) {
    const [at, id] = decodeCursor(params.cursor);
    values.push(at, id);
    where.push(`(queued_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(params.limit + 1);
  const result = await db.query<RunRow>(
    `select ${RUN_COLUMNS} from workflow_executions
     where ${where.join(' and ')}
     order by queued_at desc, id desc
     limit $${values.length}`,
    values,
  );
  const rows = result.rows.slice(0, params.limit);
  const last = rows.at(-1);
  const nextCursor =
    result.rows.length > params.limit && last ? encodeCursor(last.cursor_at, last.id) : null;
  return { items: rows.map((row) => toRunView(row, false)), nextCursor };
}
