import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { MIGRATIONS_DIR } from './migrate.ts';
import { splitSqlStatements } from './sql-statements.ts';

/**
 * Lints migration files with squawk, which knows the operations that lock or rewrite a table. Every finding
 * fails, unless the statement it belongs to carries, in the comments right above it, a line
 *
 *   -- @requires-db-prep: <the step an operator takes first, e.g. "table is empty in every deployment">
 *
 * A waiver without a reason fails, and so does a waiver that waives nothing: waivers stay honest.
 * Files run in a transaction are linted with --assume-in-transaction, as the runner will run them.
 */
export interface LintFinding {
  file: string;
  line: number;
  column: number;
  rule: string;
  message: string;
}

export interface WaivedFinding extends LintFinding {
  reason: string;
}

export interface LintReport {
  findings: LintFinding[];
  waived: WaivedFinding[];
}

const WAIVER = /^--\s*@requires-db-prep:(.*)$/;
const PG_VERSION = '18';
const execFileAsync = promisify(execFile);

function squawkScript(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('squawk-cli/package.json')), 'js', 'bin', 'squawk');
}

interface SquawkJsonFinding {
  file: string;
  line: number;
  column: number;
  rule_name: string;
  message: string;
}

async function runSquawk(path: string, inTransaction: boolean): Promise<SquawkJsonFinding[]> {
  const args = [squawkScript(), '--reporter', 'json', '--pg-version', PG_VERSION, path];
  if (inTransaction) args.splice(1, 0, '--assume-in-transaction');
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    // squawk exits 1 when it found something; its report is still on stdout.
    const failed = error as { stdout?: string; stderr?: string };
    if (!failed.stdout?.trim().startsWith('[')) {
      throw new Error(`squawk failed on ${path}: ${failed.stderr ?? String(error)}`);
    }
    stdout = failed.stdout;
  }
  return JSON.parse(stdout) as SquawkJsonFinding[];
}

export async function lintMigrationFile(path: string): Promise<LintReport> {
  const sql = await readFile(path, 'utf8');
  const transactional = !/^--\s*vigil:no-transaction\b/m.test(sql);
  const statements = splitSqlStatements(sql).map((statement) => {
    const waiverLine = statement.leadingComments.find((line) => WAIVER.test(line));
    const reason = waiverLine ? (WAIVER.exec(waiverLine)?.[1] ?? '').trim() : undefined;
    return { ...statement, reason, used: false };
  });

  const report: LintReport = { findings: [], waived: [] };
  for (const raw of await runSquawk(path, transactional)) {
    // squawk's JSON lines are 0-based.
    const finding: LintFinding = {
      file: path,
      line: raw.line + 1,
      column: raw.column + 1,
      rule: raw.rule_name,
      message: raw.message,
    };
    const owner = statements.find((s) => finding.line >= s.startLine && finding.line <= s.endLine);
    if (owner?.reason) {
      owner.used = true;
      report.waived.push({ ...finding, reason: owner.reason });
    } else {
      report.findings.push(finding);
    }
  }

  for (const statement of statements) {
    if (statement.reason === undefined) continue;
    const at = { file: path, line: statement.startLine, column: 1 };
    if (statement.reason === '') {
      report.findings.push({
        ...at,
        rule: 'waiver-without-reason',
        message: '`-- @requires-db-prep:` must say which preparation makes the statement safe',
      });
    } else if (!statement.used) {
      report.findings.push({
        ...at,
        rule: 'waiver-unused',
        message:
          'This statement has a `-- @requires-db-prep:` waiver but squawk found nothing to waive',
      });
    }
  }
  return report;
}

export async function lintMigrations(dir = MIGRATIONS_DIR): Promise<LintReport> {
  const report: LintReport = { findings: [], waived: [] };
  const files = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  for (const file of files) {
    const one = await lintMigrationFile(join(dir, file));
    report.findings.push(...one.findings);
    report.waived.push(...one.waived);
  }
  return report;
}

export function formatFinding(finding: LintFinding): string {
  return `${finding.file}:${finding.line}:${finding.column} ${finding.rule}: ${finding.message}`;
}
