import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.ts';
import { definition, startTestVigil, type TestVigil, waitForRun } from '../support/vigil.ts';

let vigil: TestVigil;

beforeAll(async () => {
  vigil = await startTestVigil();
});

afterAll(async () => {
  await vigil?.close();
});

type Answer = { status: number; body: any };
type Sent = Answer & { headers: Headers; text: string };

/** A request with exactly the headers given (vigil.api always sends `Bearer <key>`). */
async function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Sent> {
  const url = path.startsWith('http') ? path : `${vigil.origin}${path}`;
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  const parsed = text.startsWith('{') ? JSON.parse(text) : text;
  return { status: response.status, headers: response.headers, text, body: parsed };
}

/** Asserts the error shape `{ error: { code, message } }` and the status; returns the answer. */
async function expectError(
  pending: Answer | Promise<Answer>,
  status: number,
  code: string,
  label?: string,
): Promise<Answer> {
  const response = await pending;
  expect(response.status, label ?? JSON.stringify(response.body)).toBe(status);
  expect(response.body, label).toEqual({
    error: expect.objectContaining({ code, message: expect.any(String) }),
  });
  return response;
}

function ids(response: Answer): string[] {
  return response.body.items.map((item: { id: string }) => item.id);
}

const MANUAL = definition(
  [
    { id: 'start', type: 'manual' },
    { id: 'echo', type: 'transform', config: { fields: { got: '{{trigger.value}}' } } },
  ],
  [['start', 'echo']],
);

const WEBHOOK = definition(
  [
    { id: 'hook', type: 'webhook' },
    { id: 'echo', type: 'transform', config: { fields: { got: '{{trigger.body.value}}' } } },
  ],
  [['hook', 'echo']],
);

async function createWorkflow(def: unknown, name = 'test', key?: string): Promise<any> {
  const created = await vigil.api('POST', '/api/workflows', { name, definition: def }, key);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

async function startRun(workflowId: string, input: unknown, key?: string): Promise<string> {
  const started = await vigil.api('POST', `/api/workflows/${workflowId}/runs`, { input }, key);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return started.body.runId;
}

/** A second organization, with a key of its own. */
async function otherOrganization(slug: string): Promise<{ id: string; key: string }> {
  const inserted = await vigil.pool.query<{ id: string }>(
    'insert into organizations (slug, name) values ($1, $2) returning id',
    [slug, `Org ${slug}`],
  );
  const created = await createApiKey(vigil.pool, { organizationSlug: slug, name: 'other' });
  return { id: inserted.rows[0]!.id, key: created.key };
}

/** POSTs a JSON body to a webhook URL, without any key. */
function postHook(url: string, body = '{}'): Promise<Sent> {
  return send('POST', url, { 'content-type': 'application/json' }, body);
}

async function runCount(workflowId: string): Promise<number> {
  const result = await vigil.pool.query<{ n: number }>(
    'select count(*)::int as n from workflow_executions where workflow_id = $1',
    [workflowId],
  );
  return result.rows[0]!.n;
}

/** Follows nextCursor from `path` (which has a query string) to the end: each page's ids. */
async function allPages(path: string): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const page: Answer = await vigil.api('GET', cursor ? `${path}&cursor=${cursor}` : path);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    pages.push(ids(page));
    cursor = page.body.nextCursor;
  } while (cursor && pages.length < 100);
  return pages;
}

function toBase64Url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';

describe('authentication', () => {
  let routes: [string, string][];

  beforeAll(async () => {
    const workflow = await createWorkflow(MANUAL, 'auth target');
    const runId = await startRun(workflow.id, { value: 1 });
    const one = `/api/workflows/${workflow.id}`;
    routes = [
      ['GET', '/api/nodes'],
      ['POST', '/api/workflows/validate'],
      ['POST', '/api/workflows'],
      ['GET', '/api/workflows'],
      ['GET', one],
      ['PUT', one],
      ['DELETE', one],
      ['POST', `${one}/runs`],
      ['GET', '/api/runs'],
      ['GET', `/api/runs/${runId}`],
      ['POST', `/api/runs/${runId}/cancel`],
    ];
  });

  /** Every /api route answers status and code to this header, never echoing `secret`. */
  async function expectRefusedEverywhere(
    authorization: string | undefined,
    status: number,
    code: string,
    secret?: string,
  ): Promise<void> {
    for (const [method, path] of routes) {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const response = await send(method, path, headers);
      await expectError(response, status, code, `${method} ${path}: ${response.text}`);
      if (secret) expect(response.text).not.toContain(secret);
    }
  }

  it('refuses every /api route without an Authorization header: 401 AUTH_REQUIRED', async () => {
    await expectRefusedEverywhere(undefined, 401, 'AUTH_REQUIRED');
  });

  it('refuses a malformed header or a key of another format: 401 AUTH_INVALID', async () => {
    await expectRefusedEverywhere('Basic xyz', 401, 'AUTH_INVALID');
    await expectRefusedEverywhere('Bearer sk_live_123', 401, 'AUTH_INVALID', 'sk_live_123');
  });

  it('refuses a well-formed but unknown key: 401 AUTH_INVALID, not echoing it', async () => {
    const unknown = `vgl_ABCDEFGH_${'x'.repeat(32)}`;
    await expectRefusedEverywhere(`Bearer ${unknown}`, 401, 'AUTH_INVALID', 'ABCDEFGH');
    // None of the refused requests deleted or started anything.
    expect((await vigil.api('GET', routes[4]![1])).status).toBe(200);
  });

  it('refuses a revoked key with 401 AUTH_REVOKED on the very next request', async () => {
    const created = await createApiKey(vigil.pool, { organizationSlug: 'default', name: 'soon' });
    expect((await vigil.api('GET', '/api/workflows', undefined, created.key)).status).toBe(200);
    expect(await revokeApiKey(vigil.pool, 'default', created.prefix)).toBe(true);
    await expectRefusedEverywhere(`Bearer ${created.key}`, 401, 'AUTH_REVOKED', created.key);
  });

  it('refuses an expired key with 401 AUTH_EXPIRED, also one expiring after use', async () => {
    const past = await createApiKey(vigil.pool, {
      organizationSlug: 'default',
      name: 'expired',
      expiresAt: new Date(Date.now() - 60_000),
    });
    await expectRefusedEverywhere(`Bearer ${past.key}`, 401, 'AUTH_EXPIRED', past.key);
    const later = await createApiKey(vigil.pool, {
      organizationSlug: 'default',
      name: 'later',
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect((await vigil.api('GET', '/api/runs', undefined, later.key)).status).toBe(200);
    await vigil.pool.query(
      `update api_keys set expires_at = now() - interval '1 second' where id = $1`,
      [later.id],
    );
    await expectError(vigil.api('GET', '/api/runs', undefined, later.key), 401, 'AUTH_EXPIRED');
  });

  it('refuses a key of a deactivated organization: 403 ORGANIZATION_DEACTIVATED', async () => {
    const org = await otherOrganization('soon-gone');
    expect((await vigil.api('GET', '/api/workflows', undefined, org.key)).status).toBe(200);
    await vigil.pool.query('update organizations set deactivated_at = now() where id = $1', [
      org.id,
    ]);
    await expectRefusedEverywhere(`Bearer ${org.key}`, 403, 'ORGANIZATION_DEACTIVATED', org.key);
  });

  it('accepts the scheme name in any case', async () => {
    const response = await send('GET', '/api/nodes', { authorization: `bearer ${vigil.key}` });
    expect(response.status).toBe(200);
  });
});

describe('tenant isolation', () => {
  it("hides another organization's workflow and run: 404 on each, absent from lists", async () => {
    const other = await otherOrganization('tenant-b');
    const workflow = await createWorkflow(MANUAL, 'tenant A');
    const runId = await startRun(workflow.id, { value: 'a' });
    const mine = await createWorkflow(MANUAL, 'tenant B', other.key);
    const myRun = await startRun(mine.id, { value: 'b' }, other.key);
    const asB = (method: string, path: string, body?: unknown) =>
      vigil.api(method, path, body, other.key);

    const path = `/api/workflows/${workflow.id}`;
    await expectError(asB('GET', path), 404, 'WORKFLOW_NOT_FOUND');
    await expectError(asB('PUT', path, { name: 'stolen' }), 404, 'WORKFLOW_NOT_FOUND');
    await expectError(asB('DELETE', path), 404, 'WORKFLOW_NOT_FOUND');
    await expectError(asB('POST', `${path}/runs`, { input: {} }), 404, 'WORKFLOW_NOT_FOUND');
    await expectError(asB('GET', `/api/runs/${runId}`), 404, 'RUN_NOT_FOUND');
    await expectError(asB('POST', `/api/runs/${runId}/cancel`), 404, 'RUN_NOT_FOUND');

    expect(ids(await asB('GET', '/api/runs?limit=200'))).toEqual([myRun]);
    const filtered = await asB('GET', `/api/runs?workflowId=${workflow.id}`);
    expect(filtered.body).toEqual({ items: [], nextCursor: null });
    expect(ids(await asB('GET', '/api/workflows?limit=200'))).toEqual([mine.id]);

    // And the other way round; A's workflow is untouched by B's attempts.
    expect(ids(await vigil.api('GET', '/api/workflows?limit=200'))).not.toContain(mine.id);
    expect(ids(await vigil.api('GET', '/api/runs?limit=200'))).not.toContain(myRun);
    await expectError(vigil.api('GET', `/api/runs/${myRun}`), 404, 'RUN_NOT_FOUND');
    const unchanged = await vigil.api('GET', path);
    expect(unchanged.status).toBe(200);
    expect(unchanged.body.name).toBe('tenant A');
  });
});

describe('workflows', () => {
  it('creates a workflow as version 1, with a webhook URL only for a webhook trigger', async () => {
    const body = { name: 'hooked', description: 'd', definition: WEBHOOK };
    const hook = await vigil.api('POST', '/api/workflows', body);
    expect(hook.status).toBe(201);
    expect(hook.body).toMatchObject({
      name: 'hooked',
      description: 'd',
      version: 1,
      enabled: true,
    });
    expect(hook.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(hook.body.webhookUrl).toMatch(
      new RegExp(`^${vigil.origin.replaceAll('.', '\\.')}/hooks/[A-Za-z0-9_-]{32}$`),
    );
    expect(hook.body).not.toHaveProperty('webhookToken');
    const manual = await createWorkflow(MANUAL, 'manual');
    expect(manual.version).toBe(1);
    expect(manual.webhookUrl).toBeNull();
    const read = await vigil.api('GET', `/api/workflows/${hook.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(hook.body);
  });

  it('refuses an invalid definition: 422 VALIDATION_FAILED naming every problem', async () => {
    const bad = definition(
      [
        { id: 'start', type: 'manual' },
        { id: 'empty', type: 'transform', config: {} },
        { id: 'alien', type: 'teleport' },
        { id: 'ghostly', type: 'transform', config: { fields: { x: '{{ghost.output}}' } } },
      ],
      [
        ['start', 'empty'],
        ['start', 'alien'],
        ['start', 'ghostly'],
      ],
    );
    const before = await vigil.pool.query('select count(*)::int as n from workflows');
    const response = await vigil.api('POST', '/api/workflows', { name: 'bad', definition: bad });
    await expectError(response, 422, 'VALIDATION_FAILED');
    const problems = response.body.error.details.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'CONFIG_INVALID', nodeId: 'empty', field: '/fields' }),
        expect.objectContaining({ code: 'NODE_TYPE_UNKNOWN', nodeId: 'alien', field: 'type' }),
        expect.objectContaining({
          code: 'REFERENCE_UNKNOWN_NODE',
          nodeId: 'ghostly',
          field: '/fields/x',
        }),
      ]),
    );
    expect(problems).toHaveLength(3);
    const after = await vigil.pool.query('select count(*)::int as n from workflows');
    expect(after.rows[0].n).toBe(before.rows[0].n);

    const validated = await vigil.api('POST', '/api/workflows/validate', { definition: bad });
    expect(validated.status).toBe(200);
    expect(validated.body).toEqual({ valid: false, problems });
    const fine = await vigil.api('POST', '/api/workflows/validate', { definition: MANUAL });
    expect(fine.status).toBe(200);
    expect(fine.body).toEqual({ valid: true, problems: [] });
    const noTrigger = await vigil.api('POST', '/api/workflows/validate', {
      definition: { nodes: [] },
    });
    expect(noTrigger.body.valid).toBe(false);
    expect(noTrigger.body.problems.length).toBeGreaterThan(0);
  });

  it('pages through the workflow list newest first with limit and cursor', async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await createWorkflow(MANUAL, `page ${i}`)).id);
    const pages = await allPages('/api/workflows?limit=2');
    for (const page of pages.slice(0, -1)) expect(page).toHaveLength(2);
    const seen = pages.flat();
    expect(seen.slice(0, 5)).toEqual([...created].reverse());
    expect(new Set(seen).size).toBe(seen.length);
    const all = await vigil.pool.query<{ id: string }>(
      `select id from workflows where organization_id = $1 and deleted_at is null`,
      [vigil.organizationId],
    );
    expect([...seen].sort()).toEqual(all.rows.map((r) => r.id).sort());
    await expectError(vigil.api('GET', '/api/workflows?limit=0'), 400, 'REQUEST_INVALID');
    await expectError(vigil.api('GET', '/api/workflows?limit=abc'), 400, 'REQUEST_INVALID');
    await expectError(vigil.api('GET', '/api/workflows?cursor=garbage'), 400, 'CURSOR_INVALID');
  });

  // Regression: a tampered cursor once reached PostgreSQL as `'not a time'::timestamptz` (500).
  it('refuses a decodable but tampered workflow cursor: 400 CURSOR_INVALID', async () => {
    const cursor = toBase64Url(['not a time', 'not a uuid']);
    await expectError(vigil.api('GET', `/api/workflows?cursor=${cursor}`), 400, 'CURSOR_INVALID');
  });

  it('versions a new definition (2, same webhook URL); a rename keeps the version', async () => {
    const created = await createWorkflow(WEBHOOK, 'versioned');
    const path = `/api/workflows/${created.id}`;
    const firstRun = await vigil.api('POST', `${path}/runs?wait=5`, { input: { value: 1 } });
    expect(firstRun.status).toBe(200);
    expect(firstRun.body.workflowVersion).toBe(1);

    const v2 = structuredClone(WEBHOOK);
    v2.nodes[1]!.data.config = { fields: { got: '{{trigger.body.value}}', v: 2 } };
    const updated = await vigil.api('PUT', path, { definition: v2 });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body.version).toBe(2);
    expect(updated.body.webhookUrl).toBe(created.webhookUrl);
    expect(updated.body.definition.nodes[1].data.config.fields.v).toBe(2);

    const renamed = await vigil.api('PUT', path, { name: 'renamed', description: null });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'renamed', description: null, version: 2 });
    expect(renamed.body.webhookUrl).toBe(created.webhookUrl);

    const secondRun = await vigil.api('POST', `${path}/runs?wait=5`, { input: { value: 2 } });
    expect(secondRun.body.workflowVersion).toBe(2);
    expect(secondRun.body.output).toEqual({ got: 2, v: 2 });
    const earlier = await vigil.api('GET', `/api/runs/${firstRun.body.id}`);
    expect(earlier.body.workflowVersion).toBe(1);
    expect(earlier.body.output).toEqual({ got: 1 });
    const versions = await vigil.pool.query(
      'select version from workflow_versions where workflow_id = $1 order by version',
      [created.id],
    );
    expect(versions.rows.map((r) => r.version)).toEqual([1, 2]);
    const invalid = await vigil.api('PUT', path, { definition: { nodes: [] } });
    await expectError(invalid, 422, 'VALIDATION_FAILED');
    expect((await vigil.api('GET', path)).body.version).toBe(2);
  });

  it('deletes: 204, then 404 for the workflow and its webhook; its runs stay', async () => {
    const created = await createWorkflow(WEBHOOK, 'doomed');
    const path = `/api/workflows/${created.id}`;
    const runId = await startRun(created.id, { value: 1 });
    await waitForRun(vigil, runId);
    const deleted = await send('DELETE', path, { authorization: `Bearer ${vigil.key}` });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect(deleted.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await expectError(vigil.api('GET', path), 404, 'WORKFLOW_NOT_FOUND');
    await expectError(vigil.api('DELETE', path), 404, 'WORKFLOW_NOT_FOUND');
    await expectError(vigil.api('PUT', path, { name: 'x' }), 404, 'WORKFLOW_NOT_FOUND');
    await expectError(vigil.api('POST', `${path}/runs`, { input: {} }), 404, 'WORKFLOW_NOT_FOUND');
    await expectError(postHook(created.webhookUrl), 404, 'WEBHOOK_NOT_FOUND');
    const list = await vigil.api('GET', '/api/workflows?limit=200');
    expect(ids(list)).not.toContain(created.id);
    expect((await vigil.api('GET', `/api/runs/${runId}`)).status).toBe(200);
  });

  it('answers 404 for ids that are not UUIDs', async () => {
    for (const [method, path] of [
      ['GET', '/api/workflows/not-a-uuid'],
      ['PUT', '/api/workflows/123'],
      ['DELETE', '/api/workflows/zzz'],
      ['POST', '/api/workflows/not-a-uuid/runs'],
    ] as const) {
      await expectError(vigil.api(method, path), 404, 'WORKFLOW_NOT_FOUND');
    }
    await expectError(
      vigil.api('GET', `/api/workflows/${UNKNOWN_UUID}`),
      404,
      'WORKFLOW_NOT_FOUND',
    );
    await expectError(vigil.api('GET', '/api/runs/not-a-uuid'), 404, 'RUN_NOT_FOUND');
    await expectError(vigil.api('POST', '/api/runs/xyz/cancel'), 404, 'RUN_NOT_FOUND');
  });

  it('refuses an unknown body field with 400 REQUEST_INVALID naming it', async () => {
    const created = await vigil.api('POST', '/api/workflows', {
      name: 'x',
      definition: MANUAL,
      colour: 'red',
    });
    await expectError(created, 400, 'REQUEST_INVALID');
    expect(created.body.error.message).toContain('colour');
    expect(created.body.error.details.problems[0].field).toBe('body.colour');
    const workflow = await createWorkflow(MANUAL, 'strict');
    const path = `/api/workflows/${workflow.id}`;
    const put = await vigil.api('PUT', path, { name: 'y', owner: 'me' });
    await expectError(put, 400, 'REQUEST_INVALID');
    expect(put.body.error.message).toContain('owner');
    const run = await vigil.api('POST', `${path}/runs`, { input: {}, priority: 1 });
    await expectError(run, 400, 'REQUEST_INVALID');
    expect(run.body.error.message).toContain('priority');
    const validate = await vigil.api('POST', '/api/workflows/validate', { definiton: MANUAL });
    await expectError(validate, 400, 'REQUEST_INVALID');
    expect(validate.body.error.message).toContain('definiton');
    const noName = await vigil.api('POST', '/api/workflows', { definition: MANUAL });
    await expectError(noName, 400, 'REQUEST_INVALID');
    expect(noName.body.error.details.problems[0].field).toBe('body.name');
  });

  it('refuses runs of a disabled workflow: 409 WORKFLOW_DISABLED, API and webhook', async () => {
    const created = await createWorkflow(WEBHOOK, 'switch');
    const path = `/api/workflows/${created.id}`;
    const disabled = await vigil.api('PUT', path, { enabled: false });
    expect(disabled.body).toMatchObject({ enabled: false, version: 1 });
    const before = await runCount(created.id);
    await expectError(vigil.api('POST', `${path}/runs`, { input: {} }), 409, 'WORKFLOW_DISABLED');
    await expectError(postHook(created.webhookUrl), 409, 'WORKFLOW_DISABLED');
    expect(await runCount(created.id)).toBe(before);
    await vigil.api('PUT', path, { enabled: true });
    expect((await postHook(created.webhookUrl)).status).toBe(202);
    expect((await vigil.api('POST', `${path}/runs`, { input: {} })).status).toBe(202);
  });
});

describe('runs', () => {
  let workflowId: string;

  beforeAll(async () => {
    workflowId = (await createWorkflow(MANUAL, 'runs')).id;
  });

  it('starts a run with 202 and its id, readable at GET /api/runs/:id', async () => {
    const runId = await startRun(workflowId, { value: 'hello' });
    expect(runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const run = await waitForRun(vigil, runId);
    expect(run).toMatchObject({ id: runId, workflowId, workflowVersion: 1, status: 'success' });
    expect(run).toMatchObject({ triggerType: 'manual', triggerSource: 'api', error: null });
    expect(run).toMatchObject({ input: { value: 'hello' }, output: { got: 'hello' } });
    const row = await vigil.pool.query(
      'select api_key_id, organization_id from workflow_executions where id = $1',
      [runId],
    );
    expect(row.rows[0].organization_id).toBe(vigil.organizationId);
    expect(row.rows[0].api_key_id).toEqual(expect.any(String));
  });

  it('answers ?wait=5 with 200 and the finished run with its steps', async () => {
    const response = await vigil.api('POST', `/api/workflows/${workflowId}/runs?wait=5`, {
      input: { value: 42 },
    });
    expect(response.status).toBe(200);
    const run = response.body;
    expect(run).toMatchObject({ status: 'success', output: { got: 42 }, input: { value: 42 } });
    expect(run).toMatchObject({ startedAt: expect.any(String), completedAt: expect.any(String) });
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    expect(run.steps).toHaveLength(2);
    const [trigger, echo] = run.steps;
    expect(trigger).toMatchObject({ nodeId: 'start', nodeType: 'manual', attempts: 1 });
    expect(trigger).toMatchObject({ status: 'success', output: { value: 42 } });
    expect(echo).toMatchObject({ nodeId: 'echo', nodeType: 'transform', attempts: 1 });
    expect(echo).toMatchObject({ status: 'success', output: { got: 42 }, error: null });
    expect(echo).toMatchObject({ startedAt: expect.any(String), completedAt: expect.any(String) });
    expect(echo.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('refuses a ?wait that is not a number of seconds from 0 to 60 with 400', async () => {
    const path = `/api/workflows/${workflowId}/runs`;
    for (const wait of ['abc', '-1', '61', 'Infinity']) {
      await expectError(vigil.api('POST', `${path}?wait=${wait}`, {}), 400, 'REQUEST_INVALID');
    }
    expect((await vigil.api('POST', `${path}?wait=0`, { input: { value: 0 } })).status).toBe(202);
  });

  it('pages runs newest first by keyset, none repeated or missing, and filters them', async () => {
    const paged = (await createWorkflow(MANUAL, 'paged')).id;
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      // Runs 2 and 5 fail: their input has no `value` for the template.
      created.push(await startRun(paged, i === 2 || i === 5 ? {} : { value: i }));
    }
    await Promise.all(created.map((id) => waitForRun(vigil, id)));
    const pages = await allPages(`/api/runs?workflowId=${paged}&limit=3`);
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual([...created].reverse());

    const failed = await vigil.api('GET', `/api/runs?workflowId=${paged}&status=error`);
    expect(ids(failed)).toEqual([created[5], created[2]]);
    expect(failed.body.items[0].error.code).toBe('TEMPLATE_REFERENCE_MISSING');
    expect(failed.body.nextCursor).toBeNull();
    expect(failed.body.items[0]).not.toHaveProperty('input');
    const [c0, c1, , c3, c4, , c6] = created;
    const succeeded = await allPages(`/api/runs?workflowId=${paged}&status=success&limit=3`);
    expect(succeeded).toEqual([
      [c6, c4, c3],
      [c1, c0],
    ]);

    // Unfiltered, the newest runs of the organization come first.
    const all = await vigil.api('GET', '/api/runs?limit=7');
    expect(ids(all)).toEqual([...created].reverse());
  });

  it('refuses bad list parameters: garbage cursor, unknown status, bad workflow id', async () => {
    for (const cursor of ['garbage', toBase64Url(['x', 'y']), toBase64Url({ a: 1 })]) {
      await expectError(vigil.api('GET', `/api/runs?cursor=${cursor}`), 400, 'CURSOR_INVALID');
    }
    await expectError(vigil.api('GET', '/api/runs?status=great'), 400, 'REQUEST_INVALID');
    await expectError(vigil.api('GET', '/api/runs?workflowId=nope'), 400, 'REQUEST_INVALID');
    await expectError(vigil.api('GET', '/api/runs?limit=201'), 400, 'REQUEST_INVALID');
  });

  // Regression: an impossible date (month 13) once passed a pattern check and failed in PostgreSQL.
  it('refuses a cursor whose time is impossible with 400 CURSOR_INVALID', async () => {
    const cursor = toBase64Url(['2024-13-45 99:99:99+00', UNKNOWN_UUID]);
    await expectError(vigil.api('GET', `/api/runs?cursor=${cursor}`), 400, 'CURSOR_INVALID');
  });

  it('refuses to cancel a finished run (409) and an unknown one (404)', async () => {
    const runId = await startRun(workflowId, { value: 'done' });
    await waitForRun(vigil, runId);
    const response = await vigil.api('POST', `/api/runs/${runId}/cancel`);
    await expectError(response, 409, 'RUN_ALREADY_FINISHED');
    expect((await vigil.api('GET', `/api/runs/${runId}`)).body.status).toBe('success');
    await expectError(vigil.api('POST', `/api/runs/${UNKNOWN_UUID}/cancel`), 404, 'RUN_NOT_FOUND');
    await expectError(vigil.api('GET', `/api/runs/${UNKNOWN_UUID}`), 404, 'RUN_NOT_FOUND');
  });
});

describe('documents, catalog and routing', () => {
  it('serves the OpenAPI 3.1 document without a key, naming every route', async () => {
    const response = await send('GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/workflows',
        '/api/workflows/{id}',
        '/api/workflows/{id}/runs',
        '/api/runs',
        '/api/runs/{id}',
        '/api/runs/{id}/cancel',
        '/hooks/{token}',
      ]),
    );
  });

  it('lists the node types, each with its config as a JSON Schema object', async () => {
    const response = await vigil.api('GET', '/api/nodes');
    expect(response.status).toBe(200);
    const types = response.body.items.map((n: any) => n.type);
    for (const type of ['manual', 'webhook', 'transform', 'condition', 'http-request', 'code']) {
      expect(types).toContain(type);
    }
    for (const node of response.body.items) {
      expect(node.kind).toMatch(/^(trigger|action)$/);
      expect(node.configSchema).toEqual(expect.objectContaining({ type: 'object' }));
    }
    const transform = response.body.items.find((n: any) => n.type === 'transform');
    expect(transform.configSchema.properties).toHaveProperty('fields');
  });

  it('answers an unknown route with 404 ROUTE_NOT_FOUND in the error shape', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/api/nope'],
      ['PATCH', '/api/workflows'],
      ['GET', '/hooks/abc'],
    ] as const) {
      const response = await send(method, `${path}?x=1`, { authorization: `Bearer ${vigil.key}` });
      await expectError(response, 404, 'ROUTE_NOT_FOUND');
      expect(response.body.error.message).toBe(`No route ${method} ${path}`);
    }
  });

  it('puts an x-request-id on every response, a new one each time', async () => {
    const auth = { authorization: `Bearer ${vigil.key}` };
    const responses = [
      await send('GET', '/openapi.json'),
      await send('GET', '/api/nodes', auth),
      await send('GET', '/api/nodes'),
      await send('GET', '/nowhere'),
      await send('POST', '/api/workflows', { ...auth, 'content-type': 'application/json' }, '{'),
      await send('GET', `/api/runs/${UNKNOWN_UUID}`, auth),
      await send('POST', `/hooks/${'a'.repeat(32)}`, { 'content-type': 'text/plain' }, 'hi'),
    ];
    const ids = responses.map((r) => r.headers.get('x-request-id'));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 401, 404, 400, 404, 415]);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(responses[4]!.body.error.code).toBe('BODY_INVALID_JSON');
  });
});
