import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/lib/load.ts';
import { createApiKey } from '../../src/auth/api-keys.ts';
import { exited, freePort, spawnVigil, waitForStatus } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { definition } from '../support/vigil.ts';

const WEBHOOKS = 5_000;

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('load: 5,000 webhooks', () => {
  it('records and finishes every run exactly once', async () => {
    const port = await freePort();
    const vigil = spawnVigil(['start'], { DATABASE_URL: db.url, VIGIL_PORT: String(port) });
    try {
      const origin = `http://127.0.0.1:${port}`;
      expect(
        await waitForStatus(`${origin}/readyz`, (s) => s === 200, 30_000),
        vigil.output(),
      ).toBe(200);
      const { key } = await createApiKey(pool, { organizationSlug: 'default', name: 'load' });
      const created = await fetch(`${origin}/api/workflows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'load',
          definition: definition(
            [
              { id: 'hook', type: 'webhook' },
              {
                id: 'double',
                type: 'transform',
                config: { fields: { seq: '{{trigger.body.seq}}' } },
              },
            ],
            [['hook', 'double']],
          ),
        }),
      }).then((r) => r.json() as Promise<{ webhookUrl: string }>);
      const hook = new URL(created.webhookUrl);

      const load = await runLoad({
        origin,
        path: hook.pathname,
        body: (seq) => JSON.stringify({ seq }),
        clients: 32,
        durationMs: 120_000,
        maxRequests: WEBHOOKS,
        check: (status) => (status === 202 ? undefined : `status ${status}`),
      });
      expect(load.failureSamples).toEqual([]);
      expect(load.requests).toBe(WEBHOOKS);

      const deadline = Date.now() + 60_000;
      let unfinished = -1;
      while (Date.now() < deadline && unfinished !== 0) {
        const left = await pool.query(
          "select count(*)::int as n from workflow_executions where status in ('queued', 'running')",
        );
        unfinished = left.rows[0].n;
        if (unfinished > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const summary = await pool.query(`
        select count(*)::int as runs,
               count(distinct (input -> 'body' ->> 'seq'))::int as distinct_inputs,
               count(*) filter (where status = 'success')::int as succeeded,
               min((input -> 'body' ->> 'seq')::int) as min_seq,
               max((input -> 'body' ->> 'seq')::int) as max_seq,
               count(*) filter (where (output ->> 'seq')::int = (input -> 'body' ->> 'seq')::int)::int
                 as outputs_match
        from workflow_executions`);
      expect(summary.rows[0]).toEqual({
        runs: WEBHOOKS,
        distinct_inputs: WEBHOOKS,
        succeeded: WEBHOOKS,
        min_seq: 0,
        max_seq: WEBHOOKS - 1,
        outputs_match: WEBHOOKS,
      });
      const steps = await pool.query(
        'select count(*)::int as n, count(distinct execution_id)::int as runs from workflow_execution_logs',
      );
      expect(steps.rows[0]).toEqual({ n: WEBHOOKS * 2, runs: WEBHOOKS });
    } finally {
      vigil.kill('SIGTERM');
      await exited(vigil);
    }
  }, 240_000);
});
