import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { decodeCursor, encodeCursor } from '../db/keyset-cursor.ts';
import { VigilError } from '../errors.ts';
import { getNodeDefinition } from '../nodes/catalog.ts';
import type { WorkflowDefinition } from './definition.ts';

export interface WorkflowRecord {
  id: string;
  name: string;
  description: string | null;
  version: number;
  enabled: boolean;
  definition: WorkflowDefinition;
  webhookToken: string | null;
  createdAt: string;
  updatedAt: string;
}

interface WorkflowRow {
  id: string;
  name: string;
  description: string | null;
  version: number;
  enabled: boolean;
  definition: WorkflowDefinition;
  webhook_token: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, name, description, version, enabled, definition, webhook_token, created_at,
  updated_at`;

function toRecord(row: WorkflowRow): WorkflowRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    version: row.version,
    enabled: row.enabled,
    definition: row.definition,
    webhookToken: row.webhook_token,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function triggerType(definition: WorkflowDefinition): string | undefined {
  return definition.nodes.find((node) => getNodeDefinition(node.type)?.kind === 'trigger')?.type;
}

/** 192 random bits: a webhook URL is its own credential, so it must not be guessable. */
function newWebhookToken(): string {
  return randomBytes(24).toString('base64url');
}

async function inTransaction<T>(
  db: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export interface CreateWorkflowParams {
  name: string;
  description?: string | null;
  definition: WorkflowDefinition;
  enabled?: boolean;
  userId?: string | null;
}

/** Saves a validated definition as version 1, and its first version row, in one transaction. */
export async function createWorkflow(
  db: pg.Pool,
  organizationId: string,
  params: CreateWorkflowParams,
): Promise<WorkflowRecord> {
  return inTransaction(db, async (client) => {
    const token = triggerType(params.definition) === 'webhook' ? newWebhookToken() : null;
    const inserted = await client.query<WorkflowRow>(
      `insert into workflows (organization_id, name, description, definition, enabled,
                              created_by_user_id, webhook_token)
       values ($1, $2, $3, $4, $5, $6, $7)
       returning ${COLUMNS}`,
      [
        organizationId,
        params.name,
        params.description ?? null,
        params.definition,
        params.enabled ?? true,
        params.userId ?? null,
        token,
      ],
    );
    const row = inserted.rows[0] as WorkflowRow;
    await insertVersion(client, organizationId, row.id, 1, params.definition, params.userId);
    return toRecord(row);
  });
}

async function insertVersion(
  client: pg.PoolClient,
  organizationId: string,
  workflowId: string,
  version: number,
  definition: WorkflowDefinition,
  userId: string | null | undefined,
): Promise<void> {
  await client.query(
    `insert into workflow_versions (workflow_id, version, organization_id, definition,
                                    created_by_user_id)
     values ($1, $2, $3, $4, $5)`,
    [workflowId, version, organizationId, definition, userId ?? null],
  );
}

export interface UpdateWorkflowParams {
  name?: string;
  description?: string | null;
  definition?: WorkflowDefinition;
  enabled?: boolean;
  userId?: string | null;
}

/**
 * Changes a workflow. A new definition becomes a new version (kept for ever: runs name the version they
 * executed); name, description and enabled change in place. The webhook token survives edits, so the
 * URL people configured keeps working.
 */
export async function updateWorkflow(
  db: pg.Pool,
  organizationId: string,
  workflowId: string,
  params: UpdateWorkflowParams,
): Promise<WorkflowRecord> {
  return inTransaction(db, async (client) => {
    const current = await client.query<WorkflowRow>(
      `select ${COLUMNS} from workflows
       where id = $1 and organization_id = $2 and deleted_at is null
       for update`,
      [workflowId, organizationId],
    );
    const row = current.rows[0];
    if (!row) throw notFound(workflowId);
    const definition = params.definition ?? row.definition;
    const version = params.definition ? row.version + 1 : row.version;
    const token =
      triggerType(definition) === 'webhook' ? (row.webhook_token ?? newWebhookToken()) : null;
    const updated = await client.query<WorkflowRow>(
      `update workflows
       set name = $3, description = $4, definition = $5, version = $6, enabled = $7,
           webhook_token = $8, updated_at = now()
       where id = $1 and organization_id = $2
       returning ${COLUMNS}`,
      [
        workflowId,
        organizationId,
        params.name ?? row.name,
        params.description === undefined ? row.description : params.description,
        definition,
        version,
        params.enabled ?? row.enabled,
        token,
      ],
    );
    if (params.definition) {
      await insertVersion(client, organizationId, workflowId, version, definition, params.userId);
    }
    return toRecord(updated.rows[0] as WorkflowRow);
  });
}

export async function getWorkflow(
  db: pg.Pool,
  organizationId: string,
  workflowId: string,
): Promise<WorkflowRecord> {
  const result = await db.query<WorkflowRow>(
    `select ${COLUMNS} from workflows
     where id = $1 and organization_id = $2 and deleted_at is null`,
    [workflowId, organizationId],
  );
  const row = result.rows[0];
  if (!row) throw notFound(workflowId);
  return toRecord(row);
}

/** Workflows of an organization, newest first; keyset-paginated by (created_at, id). */
export async function listWorkflows(
  db: pg.Pool,
  organizationId: string,
  params: { limit: number; cursor?: string },
): Promise<{ items: WorkflowRecord[]; nextCursor: string | null }> {
  const values: unknown[] = [organizationId, params.limit + 1];
  let after = '';
  if (params.cursor) {
    const [at, id] = decodeCursor(params.cursor);
    values.push(at, id);
    after = 'and (created_at, id) < ($3::timestamptz, $4::uuid)';
  }
  const result = await db.query<WorkflowRow & { cursor_at: string }>(
    `select ${COLUMNS}, created_at::text as cursor_at from workflows
     where organization_id = $1 and deleted_at is null ${after}
     order by created_at desc, id desc
     limit $2`,
    values,
  );
  const rows = result.rows.slice(0, params.limit);
  const last = rows.at(-1);
  return {
    items: rows.map(toRecord),
    nextCursor:
      result.rows.length > params.limit && last ? encodeCursor(last.cursor_at, last.id) : null,
  };
}

/** Soft delete: the workflow stops triggering and disappears from lists; its runs stay readable. */
export async function deleteWorkflow(
  db: pg.Pool,
  organizationId: string,
  workflowId: string,
): Promise<void> {
  const result = await db.query(
    `update workflows set deleted_at = now(), enabled = false, webhook_token = null
     where id = $1 and organization_id = $2 and deleted_at is null`,
    [workflowId, organizationId],
  );
  if (result.rowCount === 0) throw notFound(workflowId);
}

/** The definition of one version, which never changes once written. */
export async function loadWorkflowVersion(
  db: pg.Pool,
  organizationId: string,
  workflowId: string,
  version: number,
): Promise<WorkflowDefinition> {
  const result = await db.query<{ definition: WorkflowDefinition }>({
    name: 'vigil_load_workflow_version',
    text: `select definition from workflow_versions
           where workflow_id = $1 and version = $2 and organization_id = $3`,
    values: [workflowId, version, organizationId],
  });
  const row = result.rows[0];
  if (!row) {
    throw new VigilError(
      'WORKFLOW_VERSION_NOT_FOUND',
      `Workflow ${workflowId} has no version ${version}`,
    );
  }
  return row.definition;
}

export interface WebhookTarget {
  workflowId: string;
  organizationId: string;
  version: number;
  enabled: boolean;
}

/**
 * The workflow behind a webhook token. The token is the credential and names its organization, so this
 * lookup alone is not filtered by one; everything after it is.
 */
export async function findWebhookTarget(
  db: pg.Pool,
  token: string,
): Promise<WebhookTarget | undefined> {
  const result = await db.query<{
    id: string;
    organization_id: string;
    version: number;
    enabled: boolean;
  }>({
    name: 'vigil_find_webhook',
    text: `select id, organization_id, version, enabled from workflows
           where webhook_token = $1 and deleted_at is null`,
    values: [token],
  });
  const row = result.rows[0];
  return row
    ? {
        workflowId: row.id,
        organizationId: row.organization_id,
        version: row.version,
        enabled: row.enabled,
      }
    : undefined;
}

function notFound(workflowId: string): VigilError {
  return new VigilError('WORKFLOW_NOT_FOUND', `No workflow ${workflowId} in this organization`);
}
