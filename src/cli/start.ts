import { buildServer } from '../api/server.ts';
import type { Config } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import { loadMigrationFiles, migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { createEngineRuntime } from '../engine/runtime.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * `vigil start`: every role in one process. Opens the database (embedded when DATABASE_URL is unset),
 * applies pending migrations, starts the run worker, serves HTTP, and on SIGINT/SIGTERM stops in reverse
 * order: no new requests, runs in flight finish (or keep their committed steps for a later resume), the
 * pool closes, the embedded PostgreSQL stops.
 */
export async function start(config: Config, logger: Logger): Promise<void> {
  const database = await openDatabase(config, logger);
  const stops: (() => Promise<void>)[] = [() => database.stop()];
  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    for (const stop of stops.reverse()) {
      await stop().catch((error) => logger.error({ err: error }, 'error during shutdown'));
    }
    logger.info('stopped');
    logger.flush();
    process.exit(0);
  };
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void shutdown(signal);
    });
  }

  try {
    await migrate(database.url, { logger });
    const migrations = await loadMigrationFiles();
    const pool = createPool(database.url, { max: config.dbPoolSize, applicationName: 'vigil' });
    stops.push(() => pool.end());
    const engine = createEngineRuntime({ config, pool, databaseUrl: database.url, logger });
    stops.push(() => engine.stop());
    const server = await buildServer({ logger, pool, migrations, api: engine.api });
    stops.push(() => server.close());
    await server.listen({ host: config.host, port: config.port });
    logger.info({ url: `http://${config.host}:${config.port}` }, 'vigil is ready');
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}
