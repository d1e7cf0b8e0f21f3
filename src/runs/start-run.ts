import type pg from 'pg';
import { uuidv7 } from './ids.ts';
import type { Attribution, RunLease, TriggerInfo } from './types.ts';

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
}

export type StartRunResult =
  | { created: true; runId: string; lease?: RunLease }
  | { created: false; runId: string };

const insertRun = (queued: boolean) => `
  with run as (
    insert into workflow_executions (
      id, organization_id, workflow_id, workflow_version, status, trigger_type, trigger_source,
      api_key_id, user_id, client_ip, client_country, dispatch_key, input,
      started_at, lease_owner, lease_expires_at, lease_epoch)
    values (
      $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb,
      ${queued ? 'null, null, null, 0' : 'now(), $14, now() + make_interval(secs => $15), 1'})
    on conflict (organization_id, dispatch_key) do nothing
    returning id, organization_id
  )
  insert into workflow_execution_logs (
    organization_id, execution_id, node_id, node_type, status, output, attempt,
    started_at, completed_at, duration_ms)
  select run.organization_id, run.id, $${queued ? 14 : 16}, $${queued ? 15 : 17}, 'success',
    $13::jsonb, 1, now(), now(), 0
  from run
  returning execution_id${queued ? `, pg_notify('${RUNS_CHANNEL}', '')` : ''}`;

const INSERT_LEASED = insertRun(false);
const INSERT_QUEUED = insertRun(true);

const FIND_BY_DISPATCH_KEY = `
  select id from workflow_executions where organization_id = $1 and dispatch_key = $2`;

/**
 * The one function that inserts into workflow_executions (ARCHITECTURE invariant 3). One statement, so
 * one commit: the run row, its trigger step and (for a queued run) the NOTIFY that wakes workers are
 * written together or not at all. A dispatch key already used in the organization returns the existing
 * run instead of starting a second one.
 */
export async function startRun(
  db: pg.Pool | pg.PoolClient,
  params: StartRunParams,
): Promise<StartRunResult> {
  const runId = uuidv7();
  const a = params.attribution ?? {};
  const values: unknown[] = [
    runId,
    params.organizationId,
    params.workflowId,
    params.workflowVersion,
    params.lease ? 'running' : 'queued',
    params.trigger.type,
    params.trigger.source,
    a.apiKeyId ?? null,
    a.userId ?? null,
    a.clientIp ?? null,
    a.clientCountry ?? null,
    params.dispatchKey ?? null,
    params.triggerOutputJson,
  ];
  if (params.lease) values.push(params.lease.owner, params.lease.seconds);
  values.push(params.triggerNode.id, params.triggerNode.type);

  const result = await db.query({
    name: params.lease ? 'vigil_start_run_leased' : 'vigil_start_run_queued',
    text: params.lease ? INSERT_LEASED : INSERT_QUEUED,
    values,
  });
  if (result.rowCount === 1) {
    return params.lease
      ? { created: true, runId, lease: { runId, organizationId: params.organizationId, epoch: 1 } }
      : { created: true, runId };
  }
  const existing = await db.query<{ id: string }>(FIND_BY_DISPATCH_KEY, [
    params.organizationId,
    params.dispatchKey,
  ]);
  const id = existing.rows[0]?.id;
  if (!id) throw new Error('startRun: insert returned nothing and no run has the dispatch key');
  return { created: false, runId: id };
}
