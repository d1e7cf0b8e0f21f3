import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVigil } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let migrated: TestDatabase;
let empty: TestDatabase;
beforeAll(async () => {
  [migrated, empty] = await Promise.all([
    createTestDatabase(),
    createTestDatabase({ empty: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([migrated.drop(), empty.drop()]);
});

describe('vigil command', () => {
  it('stops with one clear line and exit 1 on a VIGIL_PORT that is not a port', async () => {
    const result = await runVigil(['start'], { VIGIL_PORT: 'http' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'vigil: VIGIL_PORT must be an integer from 0 to 65535 (got "http")\n',
    );
  });

  it('stops with one clear line on an unreachable DATABASE_URL, without its password', async () => {
    const url = 'postgres://vigil:s3cret-pw@127.0.0.1:1/vigil';
    const result = await runVigil(['start'], { DATABASE_URL: url });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^vigil: Cannot connect to the database at postgres:\/\/vigil:\*\*\*@127\.0\.0\.1:1\/vigil: /,
    );
    expect(result.stderr).not.toContain('s3cret-pw');
  });

  it('stops with one clear line on wrong credentials', async () => {
    const url = new URL(migrated.url);
    url.password = 'wrong-password';
    const result = await runVigil(['migrate'], { DATABASE_URL: url.toString() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/password authentication failed/);
    expect(result.stderr).not.toContain('wrong-password');
  });

  it('doctor reports ok on a current database and exits 0', async () => {
    const result = await runVigil(['doctor'], { DATABASE_URL: migrated.url });
    expect(result.stdout).toMatch(/^ok +configuration is valid$/m);
    expect(result.stdout).toMatch(/^ok +database reachable: postgres:\/\/.*:\*\*\*@/m);
    expect(result.stdout).toMatch(/^ok +migrations current/m);
    expect(result.code).toBe(0);
  });

  it('doctor names pending migrations and what to run, with exit 1', async () => {
    const result = await runVigil(['doctor'], { DATABASE_URL: empty.url });
    expect(result.stdout).toMatch(
      /^problem +\d+ migration\(s\) pending: 0001_core\.sql.*vigil migrate/m,
    );
    expect(result.code).toBe(1);
  });

  it('doctor names a bad variable', async () => {
    const result = await runVigil(['doctor'], { VIGIL_PORT: '-1' });
    expect(result.stdout).toMatch(/^problem +configuration: VIGIL_PORT must be an integer/m);
    expect(result.code).toBe(1);
  });

  it('migrate --status lists pending files, then applied ones after migrate', async () => {
    const db = await createTestDatabase({ empty: true });
    try {
      const before = await runVigil(['migrate', '--status'], { DATABASE_URL: db.url });
      expect(before.stdout).toMatch(/^pending +0001_core\.sql$/m);
      expect(before.code).toBe(1);
      const applied = await runVigil(['migrate'], { DATABASE_URL: db.url });
      expect(applied.stdout).toMatch(/^applied +0001_core\.sql$/m);
      const after = await runVigil(['migrate', '--status'], { DATABASE_URL: db.url });
      expect(after.stdout).toMatch(/^applied +0001_core\.sql +\d{4}-/m);
      expect(after.code).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it.runIf(process.getuid?.() === 0)(
    'as root, names the folder the postgres user cannot enter, in one line',
    async () => {
      const locked = await mkdtemp(join(tmpdir(), 'vigil-locked-'));
      await chmod(locked, 0o700);
      try {
        const home = join(locked, 'inner', '.vigil');
        const result = await runVigil(['start'], { VIGIL_HOME: home, VIGIL_PORT: '0' });
        expect(result.code).toBe(1);
        expect(result.stderr).toBe(
          `vigil: Running as root, the embedded PostgreSQL runs as user "postgres", which cannot ` +
            `enter ${locked}; set VIGIL_HOME to a folder it can reach (for example /var/lib/vigil) ` +
            'or set DATABASE_URL\n',
        );
      } finally {
        await rm(locked, { recursive: true, force: true });
      }
    },
  );
});
