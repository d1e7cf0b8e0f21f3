import type pg from 'pg';
import type { MigrationFile } from './migrate.ts';

export interface SchemaState {
  current: boolean;
  /** The newest version this build knows, and the newest applied in the database. */
  expectedVersion: number;
  appliedVersion: number;
}

/**
 * Whether the database's schema matches this build: one cheap query, run by /readyz and doctor.
 * Checksums are verified by the migration runner at start-up, not here.
 */
export async function readSchemaState(pool: pg.Pool, files: MigrationFile[]): Promise<SchemaState> {
  const expectedVersion = files.at(-1)?.version ?? 0;
  const result = await pool.query<{ version: number | null }>(
    `select case when to_regclass('vigil_schema_migrations') is null then null
            else (select max(version) from vigil_schema_migrations) end as version`,
  );
  const appliedVersion = Number(result.rows[0]?.version ?? 0);
  return { current: appliedVersion === expectedVersion, expectedVersion, appliedVersion };
}
