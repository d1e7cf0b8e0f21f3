import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createPool } from '../../src/db/pool.ts';
import { createEngineRuntime, type EngineRuntime } from '../../src/engine/runtime.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startHttpTarget } from '../support/http-target.ts';
import { definition, startTestVigil, type TestVigil, waitForRun } from '../support/vigil.ts';

// Process A accepts runs but has one slot, kept busy; process B has free slots and a poll so slow that
// only the NOTIFY written with a queued run can wake it in time.
const HOUR_MS = 3_600_000;
let a: TestVigil;
let b: EngineRuntime;
let bPool: ReturnType<typeof createPool>;
let target: Awaited<ReturnType<typeof startHttpTarget>>;

beforeAll(async () => {
  a = await startTestVigil({ VIGIL_WORKER_CONCURRENCY: '1' }, { pollIntervalMs: HOUR_MS });
  bPool = createPool(a.db.url, { max: 4, applicationName: 'vigil-test-b' });
  b = createEngineRuntime({
    config: loadConfig({ DATABASE_URL: a.db.url }),
    pool: bPool,
    databaseUrl: a.db.url,
    logger: createLogger({ level: 'silent', pretty: false }),
    pollIntervalMs: HOUR_MS,
  });
  target = await startHttpTarget({
    '/slow': () => ({ delayMs: 3_000, body: {} }),
    '/fast': () => ({ body: { fast: true } }),
  });
});

afterAll(async () => {
  await target?.close();
  await b?.stop();
  await bPool?.end();
  await a?.close();
});

describe('a run queued in one process', () => {
  it('is claimed by an idle worker in another process, woken by NOTIFY, not by its poll', async () => {
    const create = async (path: string) =>
      (
        await a.api('POST', '/api/workflows', {
          name: path,
          definition: definition(
            [
              { id: 'start', type: 'manual' },
              { id: 'call', type: 'http-request', config: { url: `${target.url}${path}` } },
            ],
            [['start', 'call']],
          ),
        })
      ).body.id as string;
    const slow = await create('/slow');
    const fast = await create('/fast');
    // B's LISTEN connection is up once its first claim pass has run; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const busy = await a.api('POST', `/api/workflows/${slow}/runs`, { input: {} });
    const started = Date.now();
    const queued = await a.api('POST', `/api/workflows/${fast}/runs`, { input: {} });
    const run = await waitForRun(a, queued.body.runId, 2_500);
    expect(run.status).toBe('success');
    expect(Date.now() - started).toBeLessThan(2_500);
    // A's only slot was still taken, so the run was not A's to claim: B took it.
    expect((await a.api('GET', `/api/runs/${busy.body.runId}`)).body.status).toBe('running');
    await waitForRun(a, busy.body.runId);
  });
});
