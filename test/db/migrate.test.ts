import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMigrationFiles, migrate, migrationStatus } from '../../src/db/migrate.ts';
import { VigilError } from '../../src/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const databases: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(databases.splice(0).map((db) => db.drop()));
});

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ empty: true });
  databases.push(db);
  return db;
}

async function migrationDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-migrations-'));
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql);
  return dir;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function errorOf(promise: Promise<unknown>): Promise<VigilError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VigilError) return error;
    throw error;
  }
  throw new Error('expected the promise to reject');
}

describe('migrate', () => {
  it('applies files in numeric order and records each one', async () => {
    const db = await emptyDatabase();
    const dir = await migrationDir({
      '0010_second.sql': "insert into steps (name) values ('second');",
      '0002_first.sql':
        'create table steps (n bigint generated always as identity, name text not null);\n' +
        "insert into steps (name) values ('first');",
    });
    const applied = await migrate(db.url, { dir });
    expect(applied.map((file) => file.fileName)).toEqual(['0002_first.sql', '0010_second.sql']);
    const steps = await query<{ name: string }>(db.url, 'select name from steps order by n');
    expect(steps.map((row) => row.name)).toEqual(['first', 'second']);
    const status = await migrationStatus(db.url, dir);
    expect(status.map((s) => [s.version, s.state])).toEqual([
      [2, 'applied'],
      [10, 'applied'],
    ]);
    expect(await migrate(db.url, { dir })).toEqual([]);
  });

  it('applies each file once when two runners start at the same moment', async () => {
    const db = await emptyDatabase();
    const dir = await migrationDir({
      '0001_counter.sql': 'create table applied_count (file text not null);',
      // pg_sleep widens the window in which a runner without the lock would apply the file too.
      '0002_slow.sql': "select pg_sleep(0.3);\ninsert into applied_count values ('0002');",
      '0003_more.sql': "insert into applied_count values ('0003');",
    });
    const [a, b] = await Promise.all([migrate(db.url, { dir }), migrate(db.url, { dir })]);
    expect(a.length + b.length).toBe(3);
    const rows = await query<{ file: string }>(db.url, 'select file from applied_count order by 1');
    expect(rows.map((row) => row.file)).toEqual(['0002', '0003']);
  });

  it('refuses to run when an applied file was edited, naming the file', async () => {
    const db = await emptyDatabase();
    const dir = await migrationDir({ '0001_table.sql': 'create table t (a text);' });
    await migrate(db.url, { dir });
    await writeFile(join(dir, '0001_table.sql'), 'create table t (a text, b text);');
    await writeFile(join(dir, '0002_next.sql'), 'create table u (a text);');
    const error = await errorOf(migrate(db.url, { dir }));
    expect(error.code).toBe('MIGRATION_CHECKSUM_MISMATCH');
    expect(error.message).toContain('0001_table.sql was edited after it was applied');
    const tables = await query(db.url, "select 1 from pg_tables where tablename = 'u'");
    expect(tables).toHaveLength(0);
    expect((await migrationStatus(db.url, dir)).map((s) => s.state)).toEqual([
      'changed',
      'pending',
    ]);
  });

  it('rolls a failing file back entirely and reports the file and line', async () => {
    const db = await emptyDatabase();
    const dir = await migrationDir({
      '0001_broken.sql': 'create table half (a text);\n\nselect no_such_column from half;',
    });
    const error = await errorOf(migrate(db.url, { dir }));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toMatch(/0001_broken\.sql failed at line 3: column "no_such_column"/);
    expect(await query(db.url, "select 1 from pg_tables where tablename = 'half'")).toHaveLength(0);
    expect((await migrationStatus(db.url, dir))[0]?.state).toBe('pending');
  });

  it('runs a no-transaction file statement by statement, so CREATE INDEX CONCURRENTLY works', async () => {
    const db = await emptyDatabase();
    const dir = await migrationDir({
      '0001_table.sql': 'create table big (a text);',
      '0002_index.sql':
        '-- vigil:no-transaction\n' +
        "set lock_timeout = '1s';\n" +
        'create index concurrently if not exists big_a_idx on big (a);',
    });
    await migrate(db.url, { dir });
    const indexes = await query(db.url, "select 1 from pg_indexes where indexname = 'big_a_idx'");
    expect(indexes).toHaveLength(1);
  });

  it('refuses a pending file numbered before the newest applied one', async () => {
    const db = await emptyDatabase();
    const dir = await migrationDir({ '0005_a.sql': 'select 1;' });
    await migrate(db.url, { dir });
    await writeFile(join(dir, '0003_late.sql'), 'select 1;');
    const error = await errorOf(migrate(db.url, { dir }));
    expect(error.code).toBe('MIGRATION_OUT_OF_ORDER');
    expect(error.message).toContain('give it a number after 0005');
  });

  it('refuses a database that has a migration this build does not know', async () => {
    const db = await emptyDatabase();
    const newer = await migrationDir({ '0001_a.sql': 'select 1;', '0002_b.sql': 'select 1;' });
    await migrate(db.url, { dir: newer });
    const older = await migrationDir({ '0001_a.sql': 'select 1;' });
    const error = await errorOf(migrate(db.url, { dir: older }));
    expect(error.code).toBe('MIGRATION_MISSING');
  });

  it('rejects a file whose name does not follow NNNN_name.sql', async () => {
    const dir = await migrationDir({ '1_bad-name.sql': 'select 1;' });
    const error = await errorOf(loadMigrationFiles(dir));
    expect(error.code).toBe('MIGRATION_NAME_INVALID');
  });

  it("applies the project's own migrations to an empty database", async () => {
    const db = await emptyDatabase();
    const applied = await migrate(db.url);
    expect(applied.length).toBeGreaterThan(0);
    const tables = await query<{ tablename: string }>(
      db.url,
      "select tablename from pg_tables where schemaname = 'public' order by 1",
    );
    expect(tables.map((row) => row.tablename)).toEqual(
      expect.arrayContaining(['workflow_executions', 'workflow_execution_logs', 'api_keys']),
    );
  });
});
