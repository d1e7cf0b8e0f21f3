import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { buildServer } from '../../src/api/server.ts';
import { createApiKey } from '../../src/auth/api-keys.ts';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { loadMigrationFiles } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { createEngineRuntime, type EngineRuntime } from '../../src/engine/runtime.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestVigil {
  db: TestDatabase;
  pool: pg.Pool;
  engine: EngineRuntime;
  server: FastifyInstance;
  origin: string;
  /** An API key of the `default` organization. */
  key: string;
  organizationId: string;
  /** JSON request to the API with the key; returns status and parsed body. */
  api<T = any>(
    method: string,
    path: string,
    body?: unknown,
    key?: string | null,
  ): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/**
 * A whole Vigil (HTTP API, webhooks, worker) in the test process, on a database of its own, listening
 * on 127.0.0.1 with a real socket.
 */
export async function startTestVigil(
  env: Record<string, string> = {},
  options: { pollIntervalMs?: number } = {},
): Promise<TestVigil> {
  const db = await createTestDatabase();
  const config: Config = loadConfig({ DATABASE_URL: db.url, VIGIL_PORT: '0', ...env });
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
  const pool = createPool(db.url, { max: 10, applicationName: 'vigil-test' });
  const engine = createEngineRuntime({
    config,
    pool,
    databaseUrl: db.url,
    logger,
    pollIntervalMs: options.pollIntervalMs ?? 200,
  });
  const server = await buildServer({
    logger,
    pool,
    migrations: await loadMigrationFiles(),
    api: engine.api,
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  engine.api.publicUrl = origin;
  const created = await createApiKey(pool, { organizationSlug: 'default', name: 'test' });

  return {
    db,
    pool,
    engine,
    server,
    origin,
    key: created.key,
    organizationId: created.organizationId,
    async api(method, path, body, key) {
      const headers: Record<string, string> = {};
      const token = key === undefined ? created.key : key;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${origin}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await server.close();
      await engine.stop();
      await pool.end();
      await db.drop();
    },
  };
}

/** A definition from a compact description: trigger first, then steps, then edges as pairs. */
export function definition(
  nodes: { id: string; type: string; config?: unknown; retry?: unknown; timeoutMs?: number }[],
  edges: [string, string, string?][],
) {
  return {
    nodes: nodes.map((node, index) => ({
      id: node.id,
      type: node.type,
      position: { x: 0, y: index * 100 },
      data: {
        config: node.config ?? {},
        ...(node.retry ? { retry: node.retry } : {}),
        ...(node.timeoutMs ? { timeoutMs: node.timeoutMs } : {}),
      },
    })),
    edges: edges.map(([source, target, sourceHandle]) => ({
      source,
      target,
      ...(sourceHandle ? { sourceHandle } : {}),
    })),
  };
}

/** Polls GET /api/runs/:id until the run is no longer queued or running. */
export async function waitForRun(
  vigil: TestVigil,
  runId: string,
  timeoutMs = 20_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { body } = await vigil.api('GET', `/api/runs/${runId}`);
    if (body.status !== 'queued' && body.status !== 'running') return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
}
