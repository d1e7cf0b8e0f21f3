import pg from 'pg';

// bigint columns (ids, durations, counters) arrive as JS numbers: all of ours stay far below 2^53.
// numeric (wei amounts) stays a string, exact.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  max: number;
  applicationName: string;
  /** Fail a checkout that waits longer than this, instead of queueing forever behind a dead server. */
  connectionTimeoutMs?: number;
}

export function createPool(connectionString: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener that would
  // crash the process. The next checkout gets a fresh connection.
  pool.on('error', () => undefined);
  return pool;
}
