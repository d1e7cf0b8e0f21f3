import type pg from 'pg';
import { uuidv7 } from './ids.ts';
import { insertStepRows, stepRowsJson, stepSource } from './step-rows.ts';
import type { Attribution, FinalRunStatus, RunLease, StepRecord, TriggerInfo } from './types.ts';

export const RUNS_CHANNEL = 'vigil_runs';

export interface StartRunParams {
  organizationId: string;
  workflowId: string;
  workflowVersion: number;
  trigger: TriggerInfo;
  /** The trigger node and its output, recorded as the run's first step in the same statement. */
  triggerNode: { id: string; type: string };
  /** JSON text of the trigger's output: the run's input. Serialised once by the caller (size check). */
  triggerOutputJson: string;
  dispatchKey?: string | null;
  attribution?: Attribution;
  /**
   * Run at once in this process: the row is born `running` under this lease, so no other worker claims
   * it while it executes. Without a lease the run is `queued` and workers are signalled.
   */
  lease?: { owner: string; seconds: number };
  /** The id to use; generated when absent. */
  runId?: string;
  /**
   * A run that already ran to its end in memory (every step pure: no effect outside the run), recorded
   * finished in the same statement, with all its steps: one commit for the whole run.
   */
  finished?: FinishedRun;
}

export interface FinishedRun {
  status: FinalRunStatus;
  outputJson: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  durationMs: number;
  /** Every step after the trigger. */
  steps: readonly StepRecord[];
}

export type StartRunResult =
  | { created: true; runId: string; lease?: RunLease }
  | { created: false; runId: string };

const INSERT_RUNS = `
  with input as (
    select * from jsonb_to_recordset($1::jsonb) as r(
      ord int, id uuid, organization_id uuid, workflow_id uuid, workflow_version bigint, status text,
      trigger_type text, trigger_source text, api_key_id uuid, user_id uuid, client_ip inet,
      client_country text, dispatch_key text, lease_owner text, lease_seconds double precision,
      trigger_node_id text, trigger_node_type text, finished boolean, error_code text,
      error_message text, duration_ms bigint, input jsonb, output jsonb)
  ), run as (
    insert into workflow_executions (
      id, organization_id, workflow_id, workflow_version, status, trigger_type, trigger_source,
      api_key_id, user_id, client_ip, client_country, dispatch_key, input, output, error_code,
      error_message, started_at, completed_at, duration_ms, lease_owner, lease_expires_at,
      lease_epoch)
    select id, organization_id, workflow_id, workflow_version, status, trigger_type, trigger_source,
      api_key_id, user_id, client_ip, client_country, dispatch_key, input, output, error_code,
      error_message,
      case when lease_owner is null and not finished then null else now() end,
      case when finished then now() end,
      duration_ms,
      lease_owner,
      case when lease_owner is null then null else now() + make_interval(secs => lease_seconds) end,
      case when lease_owner is null then 0 else 1 end
    from input
    order by ord
    -- A dispatch key already used: the trigger already fired. (A run id already used means an
    -- earlier attempt of this statement committed: see insertRuns.)
    on conflict (organization_id, dispatch_key) do nothing
    returning id, organization_id, status
  ), trigger_step as (
    insert into workflow_execution_logs (
      organization_id, execution_id, node_id, node_type, status, output, attempt,
      started_at, completed_at, duration_ms)
    select run.organization_id, run.id, i.trigger_node_id, i.trigger_node_type, 'success', null,
      1, now(), now(), 0
    from run join input i on i.id = run.id
    returning 1
  ), s as (
    ${stepSource('$2')}
  ), more_steps as (
    -- Reading trigger_step makes it run first, so step rows keep the order the run took.
    ${insertStepRows('s.execution_id in (select id from run) and exists (select 1 from trigger_step)')}
  )
  select run.id, case when run.status = 'queued' then pg_notify('${RUNS_CHANNEL}', '') end
  from run`;

const FIND_EXISTING = `
  select id from workflow_executions
  where organization_id = $1 and (id = $2 or ($3::text is not null and dispatch_key = $3))
  order by id = $2 desc
  limit 1`;

/** The JSON the batch statement reads; the trigger output is spliced in as already serialised. */
function rowJson(params: StartRunParams, id: string, ord: number): string {
  const a = params.attribution ?? {};
  const done = params.finished;
  const row = JSON.stringify({
    ord,
    id,
    organization_id: params.organizationId,
    workflow_id: params.workflowId,
    workflow_version: params.workflowVersion,
    status: done ? done.status : params.lease ? 'running' : 'queued',
    trigger_type: params.trigger.type,
    trigger_source: params.trigger.source,
    api_key_id: a.apiKeyId ?? null,
    user_id: a.userId ?? null,
    client_ip: a.clientIp ?? null,
    client_country: a.clientCountry ?? null,
    dispatch_key: params.dispatchKey ?? null,
    lease_owner: done ? null : (params.lease?.owner ?? null),
    lease_seconds: done ? null : (params.lease?.seconds ?? null),
    trigger_node_id: params.triggerNode.id,
    trigger_node_type: params.triggerNode.type,
    finished: done !== undefined,
    error_code: done?.errorCode ?? null,
    error_message: done?.errorMessage ?? null,
    duration_ms: done?.durationMs ?? null,
  });
  const output = done?.outputJson ?? 'null';
  return `${row.slice(0, -1)},"input":${params.triggerOutputJson},"output":${output}}`;
}

/**
 * The trigger's step row carries no output of its own: its output is the run's input, stored once, in
 * workflow_executions.input (readers put it back: getRun, and a worker resuming the run).
 *
 * The one function that inserts into workflow_executions (ARCHITECTURE invariant 3). One statement, so
 * one commit for any number of runs: each run row, its trigger step and (for a queued run) the NOTIFY
 * that wakes workers are written together or not at all. A dispatch key already used in the organization
 * returns the existing run instead of starting a second one.
 */
export async function insertRuns(
  db: pg.Pool | pg.PoolClient,
  runs: readonly StartRunParams[],
): Promise<StartRunResult[]> {
  const ids = runs.map((params) => params.runId ?? uuidv7());
  const json = `[${runs.map((params, index) => rowJson(params, ids[index] as string, index)).join(',')}]`;
  const steps = runs
    .map((params, index) =>
      params.finished
        ? stepRowsJson(
            { runId: ids[index] as string, organizationId: params.organizationId, epoch: 0 },
            params.finished.steps,
          )
        : '',
    )
    .filter(Boolean);
  let inserted: Set<string>;
  try {
    const result = await db.query<{ id: string }>({
      name: 'vigil_insert_runs',
      text: INSERT_RUNS,
      values: [json, `[${steps.join(',')}]`],
    });
    inserted = new Set(result.rows.map((row) => row.id));
  } catch (error) {
    // One run whose id exists: an earlier attempt committed it and its answer was lost. A batch
    // fails whole and the batcher retries its runs one by one, each landing here.
    const pgError = error as { code?: string; constraint?: string };
    const retried = pgError.code === '23505' && pgError.constraint === 'workflow_executions_pkey';
    if (!retried || runs.length > 1) throw error;
    inserted = new Set();
  }
  return Promise.all(
    runs.map(async (params, index): Promise<StartRunResult> => {
      const runId = ids[index] as string;
      const ours: StartRunResult =
        params.lease && !params.finished
          ? {
              created: true,
              runId,
              lease: { runId, organizationId: params.organizationId, epoch: 1 },
            }
          : { created: true, runId };
      if (inserted.has(runId)) return ours;
      const existing = await db.query<{ id: string }>(FIND_EXISTING, [
        params.organizationId,
        runId,
        params.dispatchKey ?? null,
      ]);
      const id = existing.rows[0]?.id;
      if (!id) throw new Error('insertRuns: a run was neither inserted nor found');
      // Our own id: an earlier attempt committed it. Another id: the dispatch key's first run.
      return id === runId ? ours : { created: false, runId: id };
    }),
  );
}

export async function startRun(
  db: pg.Pool | pg.PoolClient,
  params: StartRunParams,
): Promise<StartRunResult> {
  const [result] = await insertRuns(db, [params]);
  return result as StartRunResult;
}
