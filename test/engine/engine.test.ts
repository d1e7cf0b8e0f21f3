import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelRun } from '../../src/runs/cancel-run.ts';
import { startHttpTarget } from '../support/http-target.ts';
import { definition, startTestVigil, type TestVigil, waitForRun } from '../support/vigil.ts';

let vigil: TestVigil;
let target: Awaited<ReturnType<typeof startHttpTarget>>;

beforeAll(async () => {
  vigil = await startTestVigil({ VIGIL_MAX_PAYLOAD_BYTES: String(64 * 1024) });
  target = await startHttpTarget({
    '/flaky': (_request, _body, hit) =>
      hit < 3 ? { status: 503, body: { hit } } : { body: { hit } },
    '/broken': () => ({ status: 400, body: { error: 'bad' } }),
    '/slow': () => ({ delayMs: 2_000, body: { slow: true } }),
    '/echo': (request, body) => ({
      body: { method: request.method, body: JSON.parse(body || 'null') },
    }),
    '/count': () => ({ body: { counted: true } }),
  });
});

afterAll(async () => {
  await target?.close();
  await vigil?.close();
});

async function createWorkflow(def: unknown): Promise<string> {
  const created = await vigil.api('POST', '/api/workflows', { name: 'test', definition: def });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id;
}

async function run(workflowId: string, input: unknown, wait = 10) {
  const started = await vigil.api('POST', `/api/workflows/${workflowId}/runs?wait=${wait}`, {
    input,
  });
  expect([200, 202]).toContain(started.status);
  return started.status === 200 ? started.body : waitForRun(vigil, started.body.runId);
}

/** start -> a 2 s call -> a counted call; started, and 300 ms into its first step. */
async function startSlowTwoStepRun() {
  const id = await createWorkflow(
    definition(
      [
        { id: 'start', type: 'manual' },
        { id: 'wait', type: 'http-request', config: { url: `${target.url}/slow` } },
        { id: 'after', type: 'http-request', config: { url: `${target.url}/count` } },
      ],
      [
        ['start', 'wait'],
        ['wait', 'after'],
      ],
    ),
  );
  const before = target.hits('/count');
  const started = await vigil.api('POST', `/api/workflows/${id}/runs`, { input: {} });
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { before, started };
}

describe('the engine', () => {
  it('resolves templates, keeping the type of a single reference', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          {
            id: 'shape',
            type: 'transform',
            config: {
              fields: { n: '{{trigger.n}}', text: 'n={{trigger.n}}', list: ['{{trigger.tags}}'] },
            },
          },
          {
            id: 'again',
            type: 'transform',
            config: {
              fields: { doubled: '{{shape.output.n}}{{shape.output.n}}', obj: '{{shape.output}}' },
            },
          },
        ],
        [
          ['start', 'shape'],
          ['shape', 'again'],
        ],
      ),
    );
    const result = await run(id, { n: 4, tags: ['a'] });
    expect(result.status).toBe('success');
    expect(result.output).toEqual({
      doubled: '44',
      obj: { n: 4, text: 'n=4', list: [['a']] },
    });
    expect(
      result.steps.map((s: { nodeId: string; status: string }) => [s.nodeId, s.status]),
    ).toEqual([
      ['start', 'success'],
      ['shape', 'success'],
      ['again', 'success'],
    ]);
  });

  it('follows the true or false branch of a condition and records the other as skipped', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          { id: 'big', type: 'condition', config: { expression: 'trigger.amount > 100' } },
          { id: 'yes', type: 'transform', config: { fields: { size: 'big' } } },
          { id: 'no', type: 'transform', config: { fields: { size: 'small' } } },
          { id: 'after_no', type: 'transform', config: { fields: { from: '{{no.output.size}}' } } },
        ],
        [
          ['start', 'big'],
          ['big', 'yes', 'true'],
          ['big', 'no', 'false'],
          ['no', 'after_no'],
        ],
      ),
    );
    const big = await run(id, { amount: 500 });
    expect(big.status).toBe('success');
    expect(big.output).toEqual({ size: 'big' });
    const statuses = Object.fromEntries(
      big.steps.map((s: { nodeId: string; status: string }) => [s.nodeId, s.status]),
    );
    expect(statuses).toEqual({
      start: 'success',
      big: 'success',
      yes: 'success',
      no: 'skipped',
      after_no: 'skipped',
    });
    const small = await run(id, { amount: 5 });
    expect(small.output).toEqual({ from: 'small' });
  });

  it('runs fan-out branches concurrently and waits for all inputs at a fan-in', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          { id: 'a', type: 'http-request', config: { url: `${target.url}/slow` } },
          { id: 'b', type: 'http-request', config: { url: `${target.url}/slow` } },
          {
            id: 'join',
            type: 'transform',
            config: { fields: { a: '{{a.output.body.slow}}', b: '{{b.output.body.slow}}' } },
          },
        ],
        [
          ['start', 'a'],
          ['start', 'b'],
          ['a', 'join'],
          ['b', 'join'],
        ],
      ),
    );
    const started = Date.now();
    const result = await run(id, {});
    const elapsed = Date.now() - started;
    expect(result.status).toBe('success');
    expect(result.output).toEqual({ a: true, b: true });
    // Two 2-second calls side by side, not one after the other.
    expect(elapsed).toBeLessThan(3_800);
    const join = result.steps.find((s: { nodeId: string }) => s.nodeId === 'join');
    const a = result.steps.find((s: { nodeId: string }) => s.nodeId === 'a');
    expect(Date.parse(join.startedAt)).toBeGreaterThanOrEqual(Date.parse(a.completedAt));
  });

  it('retries a retryable failure with backoff and records the attempts', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          {
            id: 'call',
            type: 'http-request',
            config: { url: `${target.url}/flaky` },
            retry: { maxAttempts: 4, initialDelayMs: 50, maxDelayMs: 200 },
          },
        ],
        [['start', 'call']],
      ),
    );
    const result = await run(id, {});
    expect(result.status).toBe('success');
    const call = result.steps.find((s: { nodeId: string }) => s.nodeId === 'call');
    expect(call.attempts).toBe(3);
    expect(call.output.body).toEqual({ hit: 3 });
  });

  it('does not retry a failure that would fail the same way, and fails the run with its code', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          {
            id: 'call',
            type: 'http-request',
            config: { url: `${target.url}/broken` },
            retry: { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 10 },
          },
          { id: 'never', type: 'transform', config: { fields: {} } },
        ],
        [
          ['start', 'call'],
          ['call', 'never'],
        ],
      ),
    );
    const result = await run(id, {});
    expect(result.status).toBe('error');
    expect(result.error.code).toBe('HTTP_STATUS');
    expect(result.error.message).toMatch(/Step "call" failed: GET .*\/broken answered 400/);
    const call = result.steps.find((s: { nodeId: string }) => s.nodeId === 'call');
    expect(call).toMatchObject({ status: 'error', attempts: 1, error: { code: 'HTTP_STATUS' } });
    expect(result.steps.some((s: { nodeId: string }) => s.nodeId === 'never')).toBe(false);
  });

  it('stops a step at its timeout with STEP_TIMEOUT', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          {
            id: 'call',
            type: 'http-request',
            config: { url: `${target.url}/slow` },
            timeoutMs: 300,
          },
        ],
        [['start', 'call']],
      ),
    );
    const result = await run(id, {});
    expect(result.status).toBe('error');
    expect(result.error.code).toBe('STEP_TIMEOUT');
    expect(
      result.steps.find((s: { nodeId: string }) => s.nodeId === 'call').durationMs,
    ).toBeLessThan(1_500);
  });

  it('fails a step whose template points at a value that is not there', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          { id: 'shape', type: 'transform', config: { fields: { x: '{{trigger.missing.deep}}' } } },
        ],
        [['start', 'shape']],
      ),
    );
    const result = await run(id, { present: 1 });
    expect(result.status).toBe('error');
    expect(result.error.code).toBe('TEMPLATE_REFERENCE_MISSING');
    expect(result.error.message).toContain('missing');
  });

  it('runs a code step in the sandbox, and stops an endless loop there', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          {
            id: 'calc',
            type: 'code',
            config: { code: 'return { total: input.trigger.a + input.trigger.b };' },
          },
          {
            id: 'spin',
            type: 'code',
            config: {
              code: 'if (input.steps.calc.output.total > 10) { while (true) {} } return 1;',
              timeoutMs: 200,
            },
          },
        ],
        [
          ['start', 'calc'],
          ['calc', 'spin'],
        ],
      ),
    );
    const fine = await run(id, { a: 1, b: 2 });
    expect(fine.status).toBe('success');
    expect(fine.steps.find((s: { nodeId: string }) => s.nodeId === 'calc').output).toEqual({
      total: 3,
    });
    const stuck = await run(id, { a: 10, b: 5 });
    expect(stuck.status).toBe('error');
    expect(stuck.error.code).toBe('CODE_TIMEOUT');
  });

  it('refuses a step output over the payload limit instead of truncating it', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          {
            id: 'twice',
            type: 'transform',
            config: { fields: { a: '{{trigger.s}}', b: '{{trigger.s}}' } },
          },
          { id: 'grow', type: 'code', config: { code: "return 'x'.repeat(100 * 1024);" } },
        ],
        [
          ['start', 'twice'],
          ['start', 'grow'],
        ],
      ),
    );
    // 40 KiB in, 80 KiB out, with a 64 KiB limit.
    const result = await run(id, { s: 'y'.repeat(40 * 1024) });
    expect(result.status).toBe('error');
    const steps = Object.fromEntries(result.steps.map((s: { nodeId: string }) => [s.nodeId, s]));
    expect(steps.twice).toMatchObject({
      status: 'error',
      output: null,
      error: { code: 'STEP_OUTPUT_TOO_LARGE' },
    });
    expect(steps.grow).toMatchObject({
      status: 'error',
      output: null,
      error: { code: 'CODE_OUTPUT_TOO_LARGE' },
    });
  });

  it('refuses a run input over the payload limit with 413 and records no run', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          { id: 'x', type: 'transform', config: { fields: {} } },
        ],
        [['start', 'x']],
      ),
    );
    const before = await vigil.pool.query('select count(*)::int as n from workflow_executions');
    const response = await vigil.api('POST', `/api/workflows/${id}/runs`, {
      input: { s: 'z'.repeat(70 * 1024) },
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const after = await vigil.pool.query('select count(*)::int as n from workflow_executions');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('cancels a running run at the next step boundary', async () => {
    const { before, started } = await startSlowTwoStepRun();
    const cancel = await vigil.api('POST', `/api/runs/${started.body.runId}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body.status).toBe('cancelling');
    const result = await waitForRun(vigil, started.body.runId);
    expect(result.status).toBe('cancelled');
    expect(result.error.code).toBe('RUN_CANCELLED');
    expect(result.steps.map((s: { nodeId: string }) => s.nodeId)).toEqual(['start', 'wait']);
    expect(target.hits('/count')).toBe(before);
    const again = await vigil.api('POST', `/api/runs/${started.body.runId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('RUN_ALREADY_FINISHED');
  });

  it('stops at the next step boundary when the cancel comes from another process', async () => {
    const { before, started } = await startSlowTwoStepRun();
    // Straight to the database, as a process other than the worker's would: the worker learns of it
    // only from the answer to its next step commit.
    expect(await cancelRun(vigil.pool, vigil.organizationId, started.body.runId)).toBe(
      'cancelling',
    );
    const result = await waitForRun(vigil, started.body.runId);
    expect(result.status).toBe('cancelled');
    expect(result.steps.map((s: { nodeId: string }) => s.nodeId)).toEqual(['start', 'wait']);
    expect(target.hits('/count')).toBe(before);
  });

  it('sends the http-request body as JSON and reads a JSON answer', async () => {
    const id = await createWorkflow(
      definition(
        [
          { id: 'start', type: 'manual' },
          {
            id: 'post',
            type: 'http-request',
            config: {
              method: 'POST',
              url: `${target.url}/echo`,
              body: { value: '{{trigger.value}}' },
            },
          },
        ],
        [['start', 'post']],
      ),
    );
    const result = await run(id, { value: 7 });
    expect(result.output).toMatchObject({
      status: 200,
      body: { method: 'POST', body: { value: 7 } },
    });
  });
});
