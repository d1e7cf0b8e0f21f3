import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { MigrationFile } from '../db/migrate.ts';
import { readSchemaState } from '../db/schema-state.ts';
import { messageOf } from '../errors.ts';

const READY_TIMEOUT_MS = 2_000;

/**
 * /healthz says the process is alive and answers without touching anything else (a liveness probe must
 * not fail because the database is down, or the orchestrator restarts a healthy process). /readyz says
 * this process can serve: the database answers within 2 s and its schema is this build's.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { pool: pg.Pool; migrations: MigrationFile[] },
): void {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 2 s')), READY_TIMEOUT_MS);
      });
      const state = await Promise.race([readSchemaState(deps.pool, deps.migrations), timeout]);
      if (!state.current) {
        return reply.code(503).send({
          status: 'unavailable',
          checks: {
            database: 'ok',
            migrations: `database at ${state.appliedVersion}, this build expects ${state.expectedVersion}`,
          },
        });
      }
      return { status: 'ok', checks: { database: 'ok', migrations: 'current' } };
    } catch (error) {
      return reply.code(503).send({
        status: 'unavailable',
        checks: { database: `unreachable: ${messageOf(error)}`, migrations: 'unknown' },
      });
    } finally {
      clearTimeout(timer);
    }
  });
}
