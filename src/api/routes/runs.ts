import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { cancelRun } from '../../runs/cancel-run.ts';
import { getRun, listRuns } from '../../runs/read-runs.ts';
import { RUN_STATUSES } from '../../runs/types.ts';
import type { ApiContext } from '../context.ts';
import { parseRequest, pathId, principalOf } from '../request.ts';

export const listRunsQuery = z.object({
  workflowId: z.uuid('a workflow id').optional(),
  status: z.enum(RUN_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

export function registerRunRoutes(app: FastifyInstance, context: ApiContext): void {
  const { pool } = context;

  app.get('/api/runs', async (request) => {
    const { organizationId } = principalOf(request);
    const query = parseRequest(listRunsQuery, request.query, 'query');
    return listRuns(pool, organizationId, query);
  });

  app.get<{ Params: { id: string } }>('/api/runs/:id', async (request) => {
    const { organizationId } = principalOf(request);
    const id = pathId(request.params.id, 'RUN_NOT_FOUND', 'run');
    return getRun(pool, organizationId, id);
  });

  app.post<{ Params: { id: string } }>('/api/runs/:id/cancel', async (request, reply) => {
    const { organizationId } = principalOf(request);
    const id = pathId(request.params.id, 'RUN_NOT_FOUND', 'run');
    const status = await cancelRun(pool, organizationId, id);
    // A run executing in this process stops at its next step boundary without waiting for a commit.
    if (status === 'cancelling') context.worker.cancelLocal(id);
    return reply.code(status === 'cancelled' ? 200 : 202).send({ runId: id, status });
  });
}
