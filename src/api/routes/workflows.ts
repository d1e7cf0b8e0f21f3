import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { VigilError } from '../../errors.ts';
import { describeCatalog, getNodeDefinition } from '../../nodes/catalog.ts';
import { getRun } from '../../runs/read-runs.ts';
import type { WorkflowDefinition } from '../../workflows/definition.ts';
import {
  createWorkflow,
  deleteWorkflow,
  getWorkflow,
  listWorkflows,
  updateWorkflow,
  type WorkflowRecord,
} from '../../workflows/store.ts';
import { validateDefinition } from '../../workflows/validate.ts';
import type { ApiContext } from '../context.ts';
import { parseRequest, pathId, principalOf, waitSeconds } from '../request.ts';

export const createWorkflowBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(2_000).nullish(),
    definition: z.unknown(),
    enabled: z.boolean().optional(),
  })
  .strict();

export const updateWorkflowBody = createWorkflowBody.partial().strict();

export const validateBody = z.object({ definition: z.unknown() }).strict();

export const startRunBody = z.object({ input: z.unknown().optional() }).strict();

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

function checkedDefinition(definition: unknown): WorkflowDefinition {
  const result = validateDefinition(definition);
  if (!result.ok) {
    throw new VigilError(
      'VALIDATION_FAILED',
      `The definition has ${result.problems.length} problem(s): ${result.problems
        .slice(0, 3)
        .map((p) => (p.nodeId ? `${p.nodeId}: ${p.message}` : p.message))
        .join('; ')}`,
      { details: { problems: result.problems } },
    );
  }
  return result.definition;
}

export function workflowView(context: ApiContext, workflow: WorkflowRecord) {
  const { webhookToken, ...rest } = workflow;
  return {
    ...rest,
    webhookUrl: webhookToken ? `${context.publicUrl}/hooks/${webhookToken}` : null,
  };
}

/** The trigger's output for a run started through the API, shaped like that trigger's own. */
function apiTriggerOutput(workflow: WorkflowRecord, input: unknown): unknown {
  const trigger = workflow.definition.nodes.find(
    (node) => getNodeDefinition(node.type)?.kind === 'trigger',
  );
  if (trigger?.type === 'webhook') return { body: input ?? null, headers: {}, query: {} };
  return input ?? {};
}

export function registerWorkflowRoutes(app: FastifyInstance, context: ApiContext): void {
  const { pool } = context;

  app.get('/api/nodes', async () => ({ items: describeCatalog() }));

  app.post('/api/workflows/validate', async (request) => {
    const body = parseRequest(validateBody, request.body, 'body');
    const result = validateDefinition(body.definition);
    return { valid: result.ok, problems: result.problems };
  });

  app.post('/api/workflows', async (request, reply) => {
    const { organizationId } = principalOf(request);
    const body = parseRequest(createWorkflowBody, request.body, 'body');
    const definition = checkedDefinition(body.definition);
    const workflow = await createWorkflow(pool, organizationId, { ...body, definition });
    context.workflows.remember(organizationId, workflow.id, workflow.version, definition);
    return reply.code(201).send(workflowView(context, workflow));
  });

  app.get('/api/workflows', async (request) => {
    const { organizationId } = principalOf(request);
    const query = parseRequest(pageQuery, request.query, 'query');
    const page = await listWorkflows(pool, organizationId, query);
    return { items: page.items.map((w) => workflowView(context, w)), nextCursor: page.nextCursor };
  });

  app.get<{ Params: { id: string } }>('/api/workflows/:id', async (request) => {
    const { organizationId } = principalOf(request);
    const id = pathId(request.params.id, 'WORKFLOW_NOT_FOUND', 'workflow');
    return workflowView(context, await getWorkflow(pool, organizationId, id));
  });

  app.put<{ Params: { id: string } }>('/api/workflows/:id', async (request) => {
    const { organizationId } = principalOf(request);
    const id = pathId(request.params.id, 'WORKFLOW_NOT_FOUND', 'workflow');
    const body = parseRequest(updateWorkflowBody, request.body, 'body');
    const definition =
      body.definition === undefined ? undefined : checkedDefinition(body.definition);
    const workflow = await updateWorkflow(pool, organizationId, id, { ...body, definition });
    if (definition) context.workflows.remember(organizationId, id, workflow.version, definition);
    context.webhookTargets.clear();
    return workflowView(context, workflow);
  });

  app.delete<{ Params: { id: string } }>('/api/workflows/:id', async (request, reply) => {
    const { organizationId } = principalOf(request);
    const id = pathId(request.params.id, 'WORKFLOW_NOT_FOUND', 'workflow');
    await deleteWorkflow(pool, organizationId, id);
    context.webhookTargets.clear();
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string }; Querystring: { wait?: string } }>(
    '/api/workflows/:id/runs',
    async (request, reply) => {
      const principal = principalOf(request);
      const id = pathId(request.params.id, 'WORKFLOW_NOT_FOUND', 'workflow');
      const wait = waitSeconds(request.query.wait, context.maxWaitSeconds);
      const body = parseRequest(startRunBody, request.body, 'body');
      const workflow = await getWorkflow(pool, principal.organizationId, id);
      if (!workflow.enabled) {
        throw new VigilError('WORKFLOW_DISABLED', `Workflow ${id} is disabled; enable it first`);
      }
      const { runId } = await context.launcher.launch({
        organizationId: principal.organizationId,
        workflowId: id,
        workflowVersion: workflow.version,
        trigger: { type: 'manual', source: 'api' },
        triggerOutput: apiTriggerOutput(workflow, body.input),
        attribution: { apiKeyId: principal.apiKeyId, clientIp: request.ip },
      });
      if (wait > 0) {
        // With ?wait the answer is the run itself: 200 once it finished, 202 while it still runs.
        const done = await context.launcher.wait(principal.organizationId, runId, wait * 1000);
        const run = await getRun(pool, principal.organizationId, runId);
        return reply.code(done ? 200 : 202).send({ runId, ...run });
      }
      return reply.code(202).send({ runId });
    },
  );
}
