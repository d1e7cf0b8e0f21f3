import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { VigilError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import { splitSqlStatements } from './sql-statements.ts';

/**
 * Vigil's migration runner. Why our own, rather than a maintained one: we need all of
 * (1) plain numbered SQL files, forward only; (2) a PostgreSQL advisory lock so two processes starting at
 * once apply each file once; (3) each file in its own transaction together with its bookkeeping row, unless
 * the file declares it cannot be (CREATE INDEX CONCURRENTLY); (4) a checksum that refuses an edited applied
 * file. Postgrator has (1) and (4) but no lock, runs "down" migrations and records a file outside its
 * transaction; node-pg-migrate has (2) and (3) but no checksums and wants JS migrations for per-file
 * options; graphile-migrate has (3) and (4) but its current.sql/commit workflow is not ours. The
 * properties are small and central enough to own; tests/db/migrate.test.ts proves each one.
 */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** `pg_advisory_lock` key: "Vigil" in ASCII, so it is recognisable in pg_locks. */
const LOCK_KEY = 0x56_69_67_69_6c;
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const NO_TRANSACTION = /^--\s*vigil:no-transaction\b/m;

export interface MigrationFile {
  version: number;
  name: string;
  fileName: string;
  sql: string;
  checksum: string;
  transactional: boolean;
}

export type MigrationState = 'applied' | 'pending' | 'changed' | 'missing';

export interface MigrationStatus {
  version: number;
  name: string;
  state: MigrationState;
  appliedAt?: Date;
}

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

/** Reads the migration folder; a file that does not follow the naming rule is an error, not skipped. */
export async function loadMigrationFiles(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for (const fileName of (await readdir(dir)).sort()) {
    if (!fileName.endsWith('.sql')) continue;
    const match = FILE_PATTERN.exec(fileName);
    if (!match) {
      throw new VigilError(
        'MIGRATION_NAME_INVALID',
        `Migration file ${fileName} must be named NNNN_lowercase_words.sql`,
      );
    }
    const sql = await readFile(join(dir, fileName), 'utf8');
    const version = Number(match[1]);
    if (files.some((file) => file.version === version)) {
      throw new VigilError('MIGRATION_DUPLICATE', `Two migration files have version ${match[1]}`);
    }
    files.push({
      version,
      name: match[2] ?? '',
      fileName,
      sql,
      checksum: checksumOf(sql),
      transactional: !NO_TRANSACTION.test(sql),
    });
  }
  return files.sort((a, b) => a.version - b.version);
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
}

const ENSURE_TABLE = `
  create table if not exists vigil_schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now(),
    duration_ms integer not null
  )`;

async function readApplied(client: pg.ClientBase): Promise<AppliedRow[]> {
  const exists = await client.query(
    "select to_regclass('vigil_schema_migrations') is not null as present",
  );
  if (!exists.rows[0]?.present) return [];
  const result = await client.query<AppliedRow>(
    'select version, name, checksum, applied_at from vigil_schema_migrations order by version',
  );
  return result.rows;
}

/** What is applied, pending, changed since it was applied, or applied but unknown to this build. */
export function compareMigrations(
  files: MigrationFile[],
  applied: AppliedRow[],
): MigrationStatus[] {
  const byVersion = new Map(applied.map((row) => [row.version, row]));
  const statuses: MigrationStatus[] = files.map((file) => {
    const row = byVersion.get(file.version);
    if (!row) return { version: file.version, name: file.name, state: 'pending' };
    const state = row.checksum === file.checksum ? 'applied' : 'changed';
    return { version: file.version, name: file.name, state, appliedAt: row.applied_at };
  });
  for (const row of applied) {
    if (!files.some((file) => file.version === row.version)) {
      statuses.push({
        version: row.version,
        name: row.name,
        state: 'missing',
        appliedAt: row.applied_at,
      });
    }
  }
  return statuses.sort((a, b) => a.version - b.version);
}

export async function migrationStatus(
  connectionString: string,
  dir = MIGRATIONS_DIR,
): Promise<MigrationStatus[]> {
  const files = await loadMigrationFiles(dir);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return compareMigrations(files, await readApplied(client));
  } finally {
    await client.end();
  }
}

function fileLabel(status: MigrationStatus): string {
  return `${String(status.version).padStart(4, '0')}_${status.name}.sql`;
}

/** Refuses to go on when the database and this build disagree about the past. */
function assertConsistent(statuses: MigrationStatus[]): void {
  const changed = statuses.find((s) => s.state === 'changed');
  if (changed) {
    throw new VigilError(
      'MIGRATION_CHECKSUM_MISMATCH',
      `Migration ${fileLabel(changed)} was edited after it was applied; migrations are forward-only: ` +
        'restore the file and put the change in a new migration',
      { details: { version: changed.version } },
    );
  }
  const missing = statuses.find((s) => s.state === 'missing');
  if (missing) {
    throw new VigilError(
      'MIGRATION_MISSING',
      `The database has migration ${fileLabel(missing)} applied, which this build does not have; ` +
        'run a build at least as new as the database',
      { details: { version: missing.version } },
    );
  }
  const lastApplied = Math.max(
    0,
    ...statuses.filter((s) => s.state === 'applied').map((s) => s.version),
  );
  const early = statuses.find((s) => s.state === 'pending' && s.version < lastApplied);
  if (early) {
    throw new VigilError(
      'MIGRATION_OUT_OF_ORDER',
      `Migration ${fileLabel(early)} is older than the newest applied one; give it a number after ` +
        String(lastApplied).padStart(4, '0'),
      { details: { version: early.version } },
    );
  }
}

export interface MigrateOptions {
  dir?: string;
  logger?: Logger;
}

/**
 * Applies every pending migration, in order, holding the advisory lock for the whole pass: a second
 * process waits, then finds nothing left to do. Returns the files it applied.
 */
export async function migrate(
  connectionString: string,
  options: MigrateOptions = {},
): Promise<MigrationFile[]> {
  const files = await loadMigrationFiles(options.dir);
  const client = new pg.Client({ connectionString });
  await client.connect();
  const applied: MigrationFile[] = [];
  try {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(ENSURE_TABLE);
    const statuses = compareMigrations(files, await readApplied(client));
    assertConsistent(statuses);
    for (const file of files) {
      if (statuses.find((s) => s.version === file.version)?.state !== 'pending') continue;
      const started = performance.now();
      await applyFile(client, file, started);
      applied.push(file);
      options.logger?.info(
        { migration: file.fileName, durationMs: Math.round(performance.now() - started) },
        'migration applied',
      );
    }
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
  return applied;
}

const RECORD = `
  insert into vigil_schema_migrations (version, name, checksum, duration_ms)
  values ($1, $2, $3, $4)`;

async function applyFile(client: pg.Client, file: MigrationFile, started: number): Promise<void> {
  const record = () => [
    file.version,
    file.name,
    file.checksum,
    Math.round(performance.now() - started),
  ];
  if (file.transactional) {
    try {
      await client.query('begin');
      await client.query(file.sql);
      await client.query(RECORD, record());
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw failure(file, error);
    }
    return;
  }
  // Statements that cannot run in a transaction block run one by one; such a file must be written so
  // that running it again after a failure part way is safe (IF NOT EXISTS, and so on).
  for (const statement of splitSqlStatements(file.sql)) {
    try {
      await client.query(statement.text);
    } catch (error) {
      throw failure(file, error, statement.startLine);
    }
  }
  await client.query(RECORD, record());
}

function failure(file: MigrationFile, error: unknown, statementLine?: number): VigilError {
  const pgError = error as { message?: string; position?: string };
  let where = '';
  if (statementLine !== undefined) {
    where = ` in the statement at line ${statementLine}`;
  } else if (pgError.position) {
    const line = file.sql.slice(0, Number(pgError.position)).split('\n').length;
    where = ` at line ${line}`;
  }
  return new VigilError(
    'MIGRATION_FAILED',
    `Migration ${file.fileName} failed${where}: ${pgError.message ?? String(error)}`,
    { cause: error, details: { version: file.version } },
  );
}
