import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { MigrationFile } from '../db/migrate.ts';
import type { Logger } from '../observability/logger.ts';
import type { ApiContext } from './context.ts';
import { registerErrorHandling } from './errors.ts';
import { registerHealthRoutes } from './health.ts';
import { openApiDocument } from './openapi.ts';
import { requireApiKey } from './request.ts';
import { registerHookRoutes } from './routes/hooks.ts';
import { registerRunRoutes } from './routes/runs.ts';
import { registerWorkflowRoutes } from './routes/workflows.ts';

export interface ServerDependencies {
  logger: Logger;
  pool: pg.Pool;
  migrations: MigrationFile[];
  /** The run API and webhooks; without it the server only answers the health probes. */
  api?: ApiContext;
  version?: string;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The HTTP server: health probes, the REST API under /api, webhooks under /hooks. */
export async function buildServer(deps: ServerDependencies): Promise<FastifyInstance> {
  // Fastify logs each request at info; at thousands of runs a second those lines would be most of the
  // log, so the HTTP logger shows them only when LOG_LEVEL asks for debug.
  const verbose = deps.logger.level === 'debug' || deps.logger.level === 'trace';
  const httpLogger = deps.logger.child(
    { component: 'http' },
    { level: verbose ? deps.logger.level : 'warn' },
  );
  const app = Fastify({
    loggerInstance: httpLogger as FastifyBaseLogger,
    // Each request gets a child logger with its id; responses carry it for support. A caller's own
    // x-request-id is kept when it is a plausible id, so traces join up across services.
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    },
    bodyLimit: deps.api?.maxPayloadBytes ?? 1024 * 1024,
  });
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // JSON bodies under any JSON media type (application/cloudevents+json, ...), parsed as JSON is.
  app.addContentTypeParser(
    /^application\/[\w.-]+\+json\s*(;|$)/i,
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );
  registerErrorHandling(app);
  registerHealthRoutes(app, deps);
  if (deps.api) {
    const api = deps.api;
    const document = openApiDocument(deps.version ?? '0.0.0');
    app.get('/openapi.json', async () => document);
    await app.register(async (scope) => {
      scope.addHook('onRequest', requireApiKey(api));
      registerWorkflowRoutes(scope, api);
      registerRunRoutes(scope, api);
    });
    registerHookRoutes(app, api);
  }
  await app.ready();
  return app;
}
