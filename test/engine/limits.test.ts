import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/runs/ids.ts';
import { startRun } from '../../src/runs/start-run.ts';
import { startHttpTarget } from '../support/http-target.ts';
import { definition, startTestVigil, type TestVigil, waitForRun } from '../support/vigil.ts';

// One worker slot and a one-second run limit, so runs queue and time out on cue.
let vigil: TestVigil;
let target: Awaited<ReturnType<typeof startHttpTarget>>;

beforeAll(async () => {
  vigil = await startTestVigil({ VIGIL_WORKER_CONCURRENCY: '1', VIGIL_RUN_TIMEOUT_SECONDS: '1' });
  target = await startHttpTarget({
    '/slow': () => ({ delayMs: 2_500, body: {} }),
    '/second': () => ({ body: { second: true } }),
  });
});

afterAll(async () => {
  await target?.close();
  await vigil?.close();
});

async function workflow(path: string): Promise<string> {
  const created = await vigil.api('POST', '/api/workflows', {
    name: path,
    definition: definition(
      [
        { id: 'start', type: 'manual' },
        {
          id: 'call',
          type: 'http-request',
          config: { url: `${target.url}${path}` },
          timeoutMs: 10_000,
        },
      ],
      [['start', 'call']],
    ),
  });
  expect(created.status).toBe(201);
  return created.body.id;
}

describe('run limits and the queue', () => {
  it('stops a run at its run timeout with RUN_TIMEOUT', async () => {
    const id = await workflow('/slow');
    const started = Date.now();
    const run = await vigil.api('POST', `/api/workflows/${id}/runs?wait=10`, { input: {} });
    expect(run.status).toBe(200);
    expect(run.body.status).toBe('error');
    expect(run.body.error.code).toBe('RUN_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_400);
  });

  it('queues a run when no slot is free, and cancels it before it starts', async () => {
    const slow = await workflow('/slow');
    const second = await workflow('/second');
    const first = await vigil.api('POST', `/api/workflows/${slow}/runs`, { input: {} });
    const queued = await vigil.api('POST', `/api/workflows/${second}/runs`, { input: {} });
    const before = await vigil.api('GET', `/api/runs/${queued.body.runId}`);
    expect(before.body.status).toBe('queued');

    const cancel = await vigil.api('POST', `/api/runs/${queued.body.runId}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('cancelled');
    await waitForRun(vigil, first.body.runId);
    const after = await waitForRun(vigil, queued.body.runId);
    expect(after).toMatchObject({ status: 'cancelled', error: { code: 'RUN_CANCELLED' } });
    expect(after.steps.map((s: { nodeId: string }) => s.nodeId)).toEqual(['start']);
    expect(target.hits('/second')).toBe(0);
  });

  it('runs a queued run once a slot frees up', async () => {
    const slow = await workflow('/slow');
    const second = await workflow('/second');
    await vigil.api('POST', `/api/workflows/${slow}/runs`, { input: {} });
    const queued = await vigil.api('POST', `/api/workflows/${second}/runs`, { input: {} });
    const run = await waitForRun(vigil, queued.body.runId);
    expect(run.status).toBe('success');
    expect(run.output.body).toEqual({ second: true });
  });

  it('starts one run for a dispatch key, however often the trigger fires', async () => {
    const id = await workflow('/second');
    const params = {
      organizationId: vigil.organizationId,
      workflowId: id,
      workflowVersion: 1,
      trigger: { type: 'schedule', source: 'test' },
      triggerNode: { id: 'start', type: 'manual' },
      triggerOutputJson: '{}',
      dispatchKey: `schedule:${id}:2026-12-03T17:00:00Z`,
    };
    const [a, b] = await Promise.all([startRun(vigil.pool, params), startRun(vigil.pool, params)]);
    const c = await startRun(vigil.pool, params);
    expect(new Set([a.runId, b.runId, c.runId]).size).toBe(1);
    expect([a.created, b.created, c.created].filter(Boolean)).toHaveLength(1);
    const rows = await vigil.pool.query(
      'select count(*)::int as n from workflow_executions where dispatch_key = $1',
      [params.dispatchKey],
    );
    expect(rows.rows[0].n).toBe(1);
  });
});

describe('a start statement retried after its answer was lost', () => {
  it('finds the run its first attempt wrote instead of writing a second one', async () => {
    const id = await workflow('/second');
    const params = {
      runId: uuidv7(),
      organizationId: vigil.organizationId,
      workflowId: id,
      workflowVersion: 1,
      trigger: { type: 'webhook', source: 'test' },
      triggerNode: { id: 'start', type: 'manual' },
      triggerOutputJson: '{"n":1}',
    };
    const first = await startRun(vigil.pool, params);
    const again = await startRun(vigil.pool, params);
    expect(first).toEqual({ created: true, runId: params.runId });
    expect(again).toEqual(first);
    // One run row and one trigger step (a worker may meanwhile have run the step after it).
    const rows = await vigil.pool.query(
      `select (select count(*)::int from workflow_executions where id = $1) as runs,
              (select count(*)::int from workflow_execution_logs
               where execution_id = $1 and node_id = 'start') as trigger_steps`,
      [params.runId],
    );
    expect(rows.rows[0]).toEqual({ runs: 1, trigger_steps: 1 });
    await waitForRun(vigil, params.runId);
  });
});

describe('a queued run of a workflow disabled while it waited', () => {
  it('is skipped, with the reason, and never runs a step', async () => {
    const slow = await workflow('/slow');
    const later = await workflow('/second');
    const hitsBefore = target.hits('/second');
    await vigil.api('POST', `/api/workflows/${slow}/runs`, { input: {} });
    const queued = await vigil.api('POST', `/api/workflows/${later}/runs`, { input: {} });
    expect((await vigil.api('GET', `/api/runs/${queued.body.runId}`)).body.status).toBe('queued');
    expect((await vigil.api('PUT', `/api/workflows/${later}`, { enabled: false })).status).toBe(
      200,
    );
    const run = await waitForRun(vigil, queued.body.runId);
    expect(run).toMatchObject({ status: 'skipped', error: { code: 'WORKFLOW_DISABLED' } });
    expect(run.steps.map((s: { nodeId: string }) => s.nodeId)).toEqual(['start']);
    expect(target.hits('/second')).toBe(hitsBefore);
  });
});

describe('?wait that ends before the run does', () => {
  it('answers 202 with the run itself, still running', async () => {
    const slow = await workflow('/slow');
    const response = await vigil.api('POST', `/api/workflows/${slow}/runs?wait=0.2`, { input: {} });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: 'running', workflowId: slow });
    expect(response.body.runId).toBe(response.body.id);
    expect(response.body.steps.map((s: { nodeId: string }) => s.nodeId)).toEqual(['start']);
    await waitForRun(vigil, response.body.runId);
  });
});
