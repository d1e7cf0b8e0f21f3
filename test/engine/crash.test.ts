import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.ts';
import { exited, freePort, spawnVigil, waitForStatus } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startHttpTarget } from '../support/http-target.ts';
import { definition } from '../support/vigil.ts';

let db: TestDatabase;
let pool: pg.Pool;
let target: Awaited<ReturnType<typeof startHttpTarget>>;
let hangSeen: () => void;
const hung = new Promise<void>((resolve) => {
  hangSeen = resolve;
});

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  target = await startHttpTarget({
    '/a': () => ({ body: { step: 'a' } }),
    // The first call never answers in time: the worker is killed while waiting on it.
    '/hang': (_request, _body, hit) => {
      if (hit === 1) {
        hangSeen();
        return { delayMs: 120_000, body: {} };
      }
      return { body: { step: 'hang', hit } };
    },
    '/c': () => ({ body: { step: 'c' } }),
  });
});

afterAll(async () => {
  await target?.close();
  await pool?.end();
  await db?.drop();
});

async function startWorker(port: number) {
  const vigil = spawnVigil(['start'], {
    DATABASE_URL: db.url,
    VIGIL_PORT: String(port),
    VIGIL_LEASE_SECONDS: '2',
  });
  const ready = await waitForStatus(`http://127.0.0.1:${port}/readyz`, (s) => s === 200, 30_000);
  expect(ready, vigil.output()).toBe(200);
  return vigil;
}

describe('a worker killed mid-run', () => {
  it('is resumed after its last committed step, no step runs twice, one finalize', async () => {
    const port = await freePort();
    const { key } = await createApiKey(pool, { organizationSlug: 'default', name: 'crash' });
    const first = await startWorker(port);
    const api = (path: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

    const created = await api('/api/workflows', {
      name: 'crash',
      definition: definition(
        [
          { id: 'start', type: 'manual' },
          { id: 'a', type: 'http-request', config: { url: `${target.url}/a` } },
          {
            id: 'hang',
            type: 'http-request',
            config: { url: `${target.url}/hang`, timeoutMs: 60_000 },
          },
          { id: 'c', type: 'http-request', config: { url: `${target.url}/c` } },
          { id: 'done', type: 'transform', config: { fields: { last: '{{c.output.body.step}}' } } },
        ],
        [
          ['start', 'a'],
          ['a', 'hang'],
          ['hang', 'c'],
          ['c', 'done'],
        ],
      ),
    });
    expect(created.status).toBe(201);
    const started = await api(`/api/workflows/${created.body.id}/runs`, { input: { n: 1 } });
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;

    await hung;
    first.kill('SIGKILL');
    await exited(first);
    const midway = await pool.query(
      'select node_id from workflow_execution_logs where execution_id = $1 order by id',
      [runId],
    );
    expect(midway.rows.map((r) => r.node_id)).toEqual(['start', 'a']);
    const killedAt = Date.now();

    const second = await startWorker(port);
    try {
      let run: { status: string } | undefined;
      while (Date.now() - killedAt < 60_000) {
        run = (await api(`/api/runs/${runId}`)).body;
        if (run?.status !== 'running' && run?.status !== 'queued') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(run).toMatchObject({ status: 'success', output: { last: 'c' } });
      expect(Date.now() - killedAt).toBeLessThan(60_000);

      expect([target.hits('/a'), target.hits('/hang'), target.hits('/c')]).toEqual([1, 2, 1]);
      const steps = await pool.query(
        `select node_id, status from workflow_execution_logs where execution_id = $1 order by id`,
        [runId],
      );
      expect(steps.rows).toEqual(
        ['start', 'a', 'hang', 'c', 'done'].map((node_id) => ({ node_id, status: 'success' })),
      );
      const row = await pool.query(
        `select status, lease_epoch, lease_owner, completed_at is not null as completed
         from workflow_executions where id = $1`,
        [runId],
      );
      // Claimed twice (the first worker, then the one that resumed it), finalized once.
      expect(row.rows[0]).toEqual({
        status: 'success',
        lease_epoch: 2,
        lease_owner: null,
        completed: true,
      });
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
  }, 90_000);
});
