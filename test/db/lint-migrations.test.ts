import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFinding, lintMigrationFile, lintMigrations } from '../../src/db/lint-migrations.ts';

const TIMEOUTS = "set lock_timeout = '1s';\nset statement_timeout = '5s';\n";

async function file(sql: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-lint-'));
  const path = join(dir, '0001_test.sql');
  await writeFile(path, sql);
  return path;
}

describe('migration lint', () => {
  it("passes the project's own migrations with no finding", async () => {
    const report = await lintMigrations();
    expect(report.findings.map(formatFinding)).toEqual([]);
  });

  it('fails a file that adds a NOT NULL column without a default, with file, line and rule', async () => {
    const path = await file(`${TIMEOUTS}\nalter table things add column owner text not null;\n`);
    const report = await lintMigrationFile(path);
    expect(report.findings).toEqual([
      expect.objectContaining({ file: path, line: 4, rule: 'adding-required-field' }),
    ]);
    expect(formatFinding(report.findings[0]!)).toMatch(
      /0001_test\.sql:4:\d+ adding-required-field/,
    );
  });

  it('fails an index built without CONCURRENTLY and a statement without lock_timeout', async () => {
    const path = await file('create index things_a on things (a);\n');
    const rules = (await lintMigrationFile(path)).findings.map((f) => f.rule);
    expect(rules).toEqual(
      expect.arrayContaining(['require-concurrent-index-creation', 'require-lock-timeout']),
    );
  });

  it('waives the findings of a statement preceded by @requires-db-prep with a reason', async () => {
    const path = await file(
      `${TIMEOUTS}\n-- @requires-db-prep: backfilled in 0007; no row has owner null\n` +
        'alter table things add column owner text not null;\n',
    );
    const report = await lintMigrationFile(path);
    expect(report.findings).toEqual([]);
    expect(report.waived).toEqual([
      expect.objectContaining({
        rule: 'adding-required-field',
        reason: 'backfilled in 0007; no row has owner null',
      }),
    ]);
  });

  it('fails a waiver that gives no reason, and does not waive with it', async () => {
    const path = await file(
      `${TIMEOUTS}\n-- @requires-db-prep:\nalter table things add column owner text not null;\n`,
    );
    const rules = (await lintMigrationFile(path)).findings.map((f) => f.rule).sort();
    expect(rules).toEqual(['adding-required-field', 'waiver-without-reason']);
  });

  it('fails a waiver on a statement that has nothing to waive', async () => {
    const path = await file(`${TIMEOUTS}\n-- @requires-db-prep: not needed\nselect 1;\n`);
    const rules = (await lintMigrationFile(path)).findings.map((f) => f.rule);
    expect(rules).toEqual(['waiver-unused']);
  });

  it('waives only the statement under the waiver, not the next one', async () => {
    const path = await file(
      `${TIMEOUTS}-- @requires-db-prep: empty table in every deployment\n` +
        'alter table a add column x text not null;\n' +
        'alter table b add column y text not null;\n',
    );
    const report = await lintMigrationFile(path);
    expect(report.waived.map((f) => f.line)).toEqual([4]);
    expect(report.findings.map((f) => [f.line, f.rule])).toEqual([[5, 'adding-required-field']]);
  });
});
