/**
 * What one PostgreSQL round trip and one commit cost on this machine: the floor under every run.
 * Starts a throwaway embedded PostgreSQL, then measures, over TCP and over the Unix socket,
 * `select 1`, a one-row insert (a commit), and a commit rate with 1 to 8 concurrent connections.
 *
 *   npx tsx bench/pg-roundtrip.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';

const home = await mkdtemp(join(tmpdir(), 'vigil-pg-roundtrip-'));
const db = await startEmbeddedPostgres({ home, allowAttach: false });
try {
  const socketUrl = db.url;
  const tcpUrl = db.url.replace(/\?host=.*$/, '');
  const setup = new pg.Client({ connectionString: tcpUrl });
  await setup.connect();
  await setup.query(
    'create table probe (id bigint generated always as identity primary key, v text)',
  );
  await setup.end();

  for (const [name, url] of [
    ['tcp', tcpUrl],
    ['unix socket', socketUrl],
  ] as const) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const [what, text] of [
      ['select 1', 'select 1'],
      ['insert + commit', "insert into probe (v) values ('x')"],
    ] as const) {
      const n = 2_000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await client.query({ name: what, text });
      console.log(
        `${name.padEnd(12)} ${what.padEnd(16)} ${(((performance.now() - t0) / n) * 1000).toFixed(0)} us`,
      );
    }
    await client.end();
  }

  const pool = new pg.Pool({ connectionString: socketUrl, max: 8 });
  for (const concurrency of [1, 2, 4, 8]) {
    let commits = 0;
    const end = performance.now() + 3_000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await pool.query({ name: 'c', text: "insert into probe (v) values ('x')" });
          commits++;
        }
      }),
    );
    console.log(`${concurrency} connection(s): ${Math.round(commits / 3)} commits/s`);
  }
  await pool.end();
} finally {
  await db.stop();
  await rm(home, { recursive: true, force: true });
}
