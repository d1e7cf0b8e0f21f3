import type pg from 'pg';
import type { RunLease } from './types.ts';

/**
 * Claims runs for a worker: queued runs oldest first, and running runs whose lease expired (their worker
 * died). SKIP LOCKED lets many workers claim at once without waiting on each other. This query spans
 * organizations by design: workers serve every tenant; each claimed run is then handled under its own
 * organization_id.
 */
const CLAIM = `
  with queued as (
    select id from workflow_executions
    where status = 'queued'
    order by queued_at
    limit $3
    for update skip locked
  ), expired as (
    select id from workflow_executions
    where status = 'running' and lease_expires_at < now()
    order by lease_expires_at
    limit $3
    for update skip locked
  )
  update workflow_executions e
  set status = 'running', lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
      lease_epoch = e.lease_epoch + 1, started_at = coalesce(e.started_at, now())
  where e.id in (select id from queued union all select id from expired)
  returning e.id, e.organization_id, e.lease_epoch`;

export async function claimRuns(
  db: pg.Pool,
  owner: string,
  leaseSeconds: number,
  limit: number,
): Promise<RunLease[]> {
  const result = await db.query<{ id: string; organization_id: string; lease_epoch: number }>({
    name: 'vigil_claim_runs',
    text: CLAIM,
    values: [owner, leaseSeconds, limit],
  });
  return result.rows.map((row) => ({
    runId: row.id,
    organizationId: row.organization_id,
    epoch: row.lease_epoch,
  }));
}

const RENEW = `
  update workflow_executions e
  set lease_expires_at = now() + make_interval(secs => $3)
  from unnest($1::uuid[], $2::bigint[]) as held(id, epoch)
  where e.id = held.id and e.lease_epoch = held.epoch and e.status = 'running'
  returning e.id`;

/** Extends the leases of the runs this worker is executing; returns the ids it still holds. */
export async function renewLeases(
  db: pg.Pool,
  leases: readonly RunLease[],
  leaseSeconds: number,
): Promise<Set<string>> {
  if (leases.length === 0) return new Set();
  const result = await db.query<{ id: string }>({
    name: 'vigil_renew_leases',
    text: RENEW,
    values: [leases.map((l) => l.runId), leases.map((l) => l.epoch), leaseSeconds],
  });
  return new Set(result.rows.map((row) => row.id));
}

export interface ClaimedRunContext {
  workflowId: string;
  workflowVersion: number;
  triggerType: string;
  input: unknown;
  startedAt: Date;
  cancelRequested: boolean;
  /** The workflow is enabled and not deleted now (a queued run of a disabled one is skipped). */
  workflowActive: boolean;
}

/** What a worker needs to execute a claimed run, read under its organization. */
export async function loadRunContext(
  db: pg.Pool,
  lease: RunLease,
): Promise<ClaimedRunContext | undefined> {
  const result = await db.query<{
    workflow_id: string;
    workflow_version: number;
    trigger_type: string;
    input: unknown;
    started_at: Date;
    cancel_requested: boolean;
    workflow_active: boolean;
  }>({
    name: 'vigil_load_run_context',
    text: `select e.workflow_id, e.workflow_version, e.trigger_type, e.input, e.started_at,
                  e.cancel_requested_at is not null as cancel_requested,
                  w.enabled and w.deleted_at is null as workflow_active
           from workflow_executions e
           join workflows w on w.id = e.workflow_id and w.organization_id = e.organization_id
           where e.id = $1 and e.organization_id = $2`,
    values: [lease.runId, lease.organizationId],
  });
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    workflowId: row.workflow_id,
    workflowVersion: row.workflow_version,
    triggerType: row.trigger_type,
    input: row.input,
    startedAt: row.started_at,
    cancelRequested: row.cancel_requested,
    workflowActive: row.workflow_active,
  };
}
