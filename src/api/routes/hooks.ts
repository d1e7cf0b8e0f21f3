import type { FastifyInstance } from 'fastify';
import { VigilError } from '../../errors.ts';
import { webhookOutput } from '../../nodes/core/webhook.ts';
import type { ApiContext } from '../context.ts';
import { waitSeconds } from '../request.ts';

const TOKEN = /^[A-Za-z0-9_-]{32}$/;

/**
 * `POST /hooks/<token>`: the token is the credential. The answer (202 with the run id) is sent once the run
 * is durably written; `?wait=<seconds>` answers with the run's outcome instead.
 */
export function registerHookRoutes(app: FastifyInstance, context: ApiContext): void {
  app.post<{ Params: { token: string }; Querystring: Record<string, string> }>(
    '/hooks/:token',
    { bodyLimit: context.maxPayloadBytes },
    async (request, reply) => {
      const type = request.headers['content-type'];
      if (type !== undefined && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
        throw new VigilError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Webhooks take JSON bodies: send Content-Type: application/json',
        );
      }
      const wait = waitSeconds(request.query.wait, context.maxWaitSeconds);
      const { token } = request.params;
      const found = TOKEN.test(token) ? await context.webhookTargets.get(token) : undefined;
      if (!found) throw new VigilError('WEBHOOK_NOT_FOUND', 'No workflow listens at this URL');
      if (!found.enabled) {
        throw new VigilError('WORKFLOW_DISABLED', 'The workflow behind this URL is disabled');
      }
      const { runId } = await context.launcher.launch({
        organizationId: found.organizationId,
        workflowId: found.workflowId,
        workflowVersion: found.version,
        trigger: { type: 'webhook', source: 'webhook' },
        triggerOutput: webhookOutput({
          body: request.body,
          headers: request.headers,
          query: request.query,
        }),
        attribution: { clientIp: request.ip },
      });
      if (wait > 0) {
        const done = await context.launcher.wait(found.organizationId, runId, wait * 1000);
        if (done) {
          return reply.code(200).send({
            runId,
            status: done.status,
            output: done.output,
            error: done.error,
          });
        }
      }
      return reply.code(202).send({ runId });
    },
  );
}
