import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { MigrationFile } from '../db/migrate.ts';
import type { Logger } from '../observability/logger.ts';
import { registerHealthRoutes } from './health.ts';

export interface ApiDependencies {
  logger: Logger;
  pool: pg.Pool;
  migrations: MigrationFile[];
}

/** The HTTP server: health probes now, the REST API and webhooks as they arrive. */
export async function buildServer(deps: ApiDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Each request gets a child logger with its id; responses carry it for support.
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerHealthRoutes(app, deps);
  await app.ready();
  return app;
}
