import type pg from 'pg';
import { VigilError } from '../errors.ts';

const CANCEL = `
  with target as (
    select id, status from workflow_executions
    where id = $1 and organization_id = $2
    for update
  )
  update workflow_executions e
  set cancel_requested_at = coalesce(e.cancel_requested_at, now()),
      status = case when target.status = 'queued' then 'cancelled' else e.status end,
      completed_at = case when target.status = 'queued' then now() else e.completed_at end,
      error_code = case when target.status = 'queued' then 'RUN_CANCELLED' else e.error_code end,
      error_message = case when target.status = 'queued' then 'The run was cancelled before it started'
                      else e.error_message end
  from target
  where e.id = target.id and target.status in ('queued', 'running')
  returning e.status`;

/**
 * Cancels a run. A queued run is cancelled at once; a running one is flagged, and its worker stops at
 * the next step boundary (the flag comes back with every step commit) and finalizes it as cancelled.
 */
export async function cancelRun(
  db: pg.Pool,
  organizationId: string,
  runId: string,
): Promise<'cancelled' | 'cancelling'> {
  const result = await db.query<{ status: string }>(CANCEL, [runId, organizationId]);
  const status = result.rows[0]?.status;
  if (status === 'cancelled') return 'cancelled';
  if (status === 'running') return 'cancelling';
  const found = await db.query<{ status: string }>(
    'select status from workflow_executions where id = $1 and organization_id = $2',
    [runId, organizationId],
  );
  if (found.rowCount === 0) throw new VigilError('RUN_NOT_FOUND', `No run ${runId}`);
  throw new VigilError(
    'RUN_ALREADY_FINISHED',
    `Run ${runId} already finished with status ${found.rows[0]?.status}; there is nothing to cancel`,
  );
}
