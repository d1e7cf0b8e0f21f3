import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, freePort, runVigil, spawnVigil, waitForStatus } from '../support/cli.ts';

// The embedded PostgreSQL's data lives under the system temp folder, which the `postgres` user can
// enter when the tests run as root.
const homes: string[] = [];
afterAll(async () => {
  await Promise.all(homes.map((home) => rm(home, { recursive: true, force: true })));
});

async function newHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'vigil-home-'));
  homes.push(home);
  return home;
}

async function embeddedUrl(home: string): Promise<string> {
  const state = JSON.parse(await readFile(join(home, 'embedded.json'), 'utf8'));
  return `postgres://${state.user}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/vigil`;
}

describe('vigil start on the embedded PostgreSQL', () => {
  it('serves /readyz 200 with nothing configured, and a second start reuses the data', async () => {
    const home = await newHome();
    const port = await freePort();
    const env = { VIGIL_HOME: home, VIGIL_PORT: String(port) };

    const first = spawnVigil(['start'], env);
    const started = Date.now();
    const ready = await waitForStatus(`http://127.0.0.1:${port}/readyz`, (s) => s === 200, 30_000);
    expect(ready, first.output()).toBe(200);
    expect(Date.now() - started).toBeLessThan(30_000);

    const client = new pg.Client({ connectionString: await embeddedUrl(home) });
    await client.connect();
    await client.query(
      "insert into organizations (slug, name) values ('kept', 'Kept across starts')",
    );
    await client.end();

    first.kill('SIGTERM');
    expect(await exited(first)).toBe(0);
    // A clean stop leaves no postmaster behind.
    expect(existsSync(join(home, 'postgres', 'postmaster.pid'))).toBe(false);

    const second = spawnVigil(['start'], env);
    try {
      const again = await waitForStatus(
        `http://127.0.0.1:${port}/readyz`,
        (s) => s === 200,
        30_000,
      );
      expect(again, second.output()).toBe(200);
      const check = new pg.Client({ connectionString: await embeddedUrl(home) });
      await check.connect();
      const rows = await check.query("select name from organizations where slug = 'kept'");
      await check.end();
      expect(rows.rows).toEqual([{ name: 'Kept across starts' }]);
    } finally {
      second.kill('SIGINT');
      expect(await exited(second)).toBe(0);
    }
  });

  it('answers /readyz 503 while the database is down, and /healthz 200 all along', async () => {
    const home = await newHome();
    const port = await freePort();
    const vigil = spawnVigil(['start'], { VIGIL_HOME: home, VIGIL_PORT: String(port) });
    try {
      const base = `http://127.0.0.1:${port}`;
      expect(await waitForStatus(`${base}/readyz`, (s) => s === 200, 30_000), vigil.output()).toBe(
        200,
      );
      const pid = Number(
        (await readFile(join(home, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0],
      );
      process.kill(pid, 'SIGINT');
      expect(await waitForStatus(`${base}/readyz`, (s) => s === 503, 15_000)).toBe(503);
      const body = (await (await fetch(`${base}/readyz`)).json()) as {
        checks: { database: string };
      };
      expect(body.checks.database).toMatch(/^unreachable/);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      vigil.kill('SIGTERM');
      await exited(vigil);
    }
  });
});

describe('vigil keys on the embedded PostgreSQL', () => {
  it('creates keys whether or not vigil start runs on the same VIGIL_HOME', async () => {
    const home = await newHome();
    const port = await freePort();
    const env = { VIGIL_HOME: home, VIGIL_PORT: String(port) };
    const base = `http://127.0.0.1:${port}`;
    const listWorkflows = (key: string) =>
      fetch(`${base}/api/workflows`, { headers: { authorization: `Bearer ${key}` } }).then(
        (r) => r.status,
      );

    // Nothing running: the command starts the database for its own duration, and stops it.
    const offline = await runVigil(
      ['keys', 'create', '--org', 'default', '--name', 'offline'],
      env,
    );
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/^vgl_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{32}\n$/);
    expect(offline.stderr).toContain('It is shown once');
    expect(existsSync(join(home, 'postgres', 'postmaster.pid'))).toBe(false);

    const vigil = spawnVigil(['start'], env);
    try {
      expect(await waitForStatus(`${base}/readyz`, (s) => s === 200, 30_000), vigil.output()).toBe(
        200,
      );
      // Running: the command attaches to the server `vigil start` runs.
      const online = await runVigil(
        ['keys', 'create', '--org', 'default', '--name', 'online'],
        env,
      );
      expect(online.code, online.stderr).toBe(0);
      expect(await listWorkflows(offline.stdout.trim())).toBe(200);
      expect(await listWorkflows(online.stdout.trim())).toBe(200);

      const prefix = online.stdout.trim().split('_')[1] as string;
      const revoked = await runVigil(['keys', 'revoke', '--org', 'default', prefix], env);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(await listWorkflows(online.stdout.trim())).toBe(401);
      const listed = await runVigil(['keys', 'list', '--org', 'default'], env);
      expect(listed.stdout).toMatch(new RegExp(`^${prefix} +revoked .* online$`, 'm'));

      const unknown = await runVigil(['keys', 'create', '--org', 'nope', '--name', 'x'], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toBe('vigil: No organization with slug "nope"\n');
    } finally {
      vigil.kill('SIGTERM');
      await exited(vigil);
    }
  });
});
