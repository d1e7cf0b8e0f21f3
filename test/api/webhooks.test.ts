import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definition, startTestVigil, type TestVigil, waitForRun } from '../support/vigil.ts';

const MAX_PAYLOAD_BYTES = 16_384;

let vigil: TestVigil;
let echo: { id: string; url: string };
let token: string;

beforeAll(async () => {
  vigil = await startTestVigil({ VIGIL_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) });
  const created = await vigil.api('POST', '/api/workflows', {
    name: 'webhook echo',
    definition: definition(
      [
        { id: 'hook', type: 'webhook' },
        {
          id: 'shape',
          type: 'transform',
          config: {
            fields: {
              amount: '{{trigger.body.x}}',
              source: '{{trigger.query.source}}',
              custom: '{{trigger.headers.x-custom}}',
              bracketed: '{{trigger.headers["x-custom"]}}',
              line: 'x={{trigger.body.x}} from {{trigger.query.source}}',
            },
          },
        },
      ],
      [['hook', 'shape']],
    ),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  echo = { id: created.body.id, url: created.body.webhookUrl };
  token = echo.url.split('/hooks/')[1]!;
});

afterAll(async () => {
  await vigil?.close();
});

interface Hooked {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

async function hook(
  url: string,
  body: string | undefined,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<Hooked> {
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

function expectError(response: Hooked, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body).toEqual({
    error: expect.objectContaining({ code, message: expect.any(String) }),
  });
}

async function runCount(workflowId: string): Promise<number> {
  const result = await vigil.pool.query<{ n: number }>(
    'select count(*)::int as n from workflow_executions where workflow_id = $1',
    [workflowId],
  );
  return result.rows[0]!.n;
}

const FULL_REQUEST = {
  query: '?source=stripe',
  body: JSON.stringify({ x: 12.5, nested: { ok: true } }),
  headers: { 'content-type': 'application/json', 'x-custom': 'custom-value' },
};

describe('webhooks', () => {
  it('answers 202 with the run id once the run is durably recorded', async () => {
    const response = await hook(`${echo.url}${FULL_REQUEST.query}`, FULL_REQUEST.body, {
      ...FULL_REQUEST.headers,
    });
    expect(response.status, response.text).toBe(202);
    expect(response.body).toEqual({ runId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    // Read straight from the database, right after the answer: no waiting, no API in between.
    const row = await vigil.pool.query(
      `select organization_id, workflow_id, workflow_version, status, trigger_type, trigger_source,
              input, api_key_id, client_ip
       from workflow_executions where id = $1`,
      [response.body.runId],
    );
    expect(row.rowCount).toBe(1);
    expect(row.rows[0]).toMatchObject({
      organization_id: vigil.organizationId,
      workflow_id: echo.id,
      workflow_version: 1,
      trigger_type: 'webhook',
      trigger_source: 'webhook',
      api_key_id: null,
    });
    expect(['queued', 'running', 'success']).toContain(row.rows[0].status);
    expect(row.rows[0].input.body).toEqual({ x: 12.5, nested: { ok: true } });
    const trigger = await vigil.pool.query(
      `select node_id, node_type, status from workflow_execution_logs
       where execution_id = $1 and node_id = 'hook'`,
      [response.body.runId],
    );
    expect(trigger.rows).toEqual([{ node_id: 'hook', node_type: 'webhook', status: 'success' }]);
    const run = await waitForRun(vigil, response.body.runId);
    expect(run.status).toBe('success');
  });

  it('passes the headers, query string and body to the trigger output', async () => {
    const response = await hook(`${echo.url}${FULL_REQUEST.query}&wait=5`, FULL_REQUEST.body, {
      ...FULL_REQUEST.headers,
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body).toEqual({
      runId: expect.any(String),
      status: 'success',
      output: {
        amount: 12.5,
        source: 'stripe',
        custom: 'custom-value',
        bracketed: 'custom-value',
        line: 'x=12.5 from stripe',
      },
      error: null,
    });
    const run = await vigil.api('GET', `/api/runs/${response.body.runId}`);
    expect(run.body.input.query).toEqual({ source: 'stripe' });
    expect(run.body.input.headers).toMatchObject({
      'x-custom': 'custom-value',
      'content-type': 'application/json',
    });
    expect(run.body.steps[0]).toMatchObject({ nodeId: 'hook', output: run.body.input });
  });

  it('keeps the caller credentials (Authorization, Cookie, ...) out of the run', async () => {
    const secrets = ['Bearer top-secret-token', 'session=cookie-secret', 'Basic proxy-secret'];
    const response = await hook(`${echo.url}?source=s&wait=5`, '{"x":1}', {
      'content-type': 'application/json',
      'x-custom': 'kept',
      authorization: secrets[0]!,
      cookie: secrets[1]!,
      'proxy-authorization': secrets[2]!,
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.output.custom).toBe('kept');
    const run = await vigil.api('GET', `/api/runs/${response.body.runId}`);
    const headers = run.body.input.headers;
    expect(headers['x-custom']).toBe('kept');
    expect(headers).not.toHaveProperty('authorization');
    expect(headers).not.toHaveProperty('cookie');
    expect(headers).not.toHaveProperty('proxy-authorization');
    const stored = await vigil.pool.query(
      `select e.input::text as input, string_agg(l.output::text, ' ') as steps
       from workflow_executions e join workflow_execution_logs l on l.execution_id = e.id
       where e.id = $1 group by e.input`,
      [response.body.runId],
    );
    for (const secret of ['top-secret-token', 'cookie-secret', 'proxy-secret']) {
      expect(stored.rows[0].input).not.toContain(secret);
      expect(stored.rows[0].steps).not.toContain(secret);
    }
  });

  it('answers ?wait with the failed outcome when the run fails', async () => {
    const response = await hook(`${echo.url}?wait=5`, '{"x":1}', {
      'content-type': 'application/json',
      'x-custom': 'c',
    });
    // No ?source= in the query, so {{trigger.query.source}} has nothing to resolve.
    expect(response.status, response.text).toBe(200);
    expect(response.body).toMatchObject({
      status: 'error',
      output: null,
      error: { code: 'TEMPLATE_REFERENCE_MISSING', message: expect.stringContaining('source') },
    });
  });

  it('takes a POST without a body: the trigger sees body null', async () => {
    const bodyless = await vigil.api('POST', '/api/workflows', {
      name: 'bodyless',
      definition: definition(
        [
          { id: 'hook', type: 'webhook' },
          { id: 'shape', type: 'transform', config: { fields: { body: '{{trigger.body}}' } } },
        ],
        [['hook', 'shape']],
      ),
    });
    const response = await hook(`${bodyless.body.webhookUrl}?wait=5`, undefined, {});
    expect(response.status, response.text).toBe(200);
    expect(response.body).toMatchObject({ status: 'success', output: { body: null } });
  });

  it('refuses a non-JSON content type: 415 UNSUPPORTED_MEDIA_TYPE, no run recorded', async () => {
    const before = await runCount(echo.id);
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const body = type === 'application/x-www-form-urlencoded' ? 'x=1' : 'x';
      const response = await hook(echo.url, body, { 'content-type': type });
      expectError(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    expect(await runCount(echo.id)).toBe(before);
  });

  it('takes application/json with a charset parameter', async () => {
    const response = await hook(`${echo.url}?source=q&wait=5`, '{"x":3}', {
      'content-type': 'application/json; charset=utf-8',
      'x-custom': 'c',
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.output.amount).toBe(3);
  });

  // Regression: Fastify once answered 415 for structured JSON types before the route could run.
  it('takes a structured JSON type such as application/cloudevents+json', async () => {
    const response = await hook(`${echo.url}?source=ce&wait=5`, '{"x":4}', {
      'content-type': 'application/cloudevents+json',
      'x-custom': 'c',
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.output.amount).toBe(4);
  });

  it('refuses invalid JSON with 400 BODY_INVALID_JSON and records no run', async () => {
    const before = await runCount(echo.id);
    expectError(await hook(echo.url, '{"x": 1,'), 400, 'BODY_INVALID_JSON');
    expectError(await hook(echo.url, 'not json'), 400, 'BODY_INVALID_JSON');
    expect(await runCount(echo.id)).toBe(before);
  });

  it('refuses a body over the limit: 413 PAYLOAD_TOO_LARGE, no run recorded', async () => {
    const before = await runCount(echo.id);
    const big = JSON.stringify({ x: 1, pad: 'p'.repeat(MAX_PAYLOAD_BYTES) });
    const response = await hook(`${echo.url}?source=big`, big);
    expectError(response, 413, 'PAYLOAD_TOO_LARGE');
    expect(response.text).not.toContain('pppp');
    // A body under the limit whose trigger output (with headers and query) is over it: also 413.
    const near = JSON.stringify({ x: 1, pad: 'p'.repeat(MAX_PAYLOAD_BYTES - 40) });
    expect(Buffer.byteLength(near)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expectError(await hook(`${echo.url}?source=near`, near), 413, 'PAYLOAD_TOO_LARGE');
    expect(await runCount(echo.id)).toBe(before);
    // The limit is on the body, not the connection: the next request goes through.
    const after = await hook(`${echo.url}?source=s`, '{"x":1}');
    expect(after.status).toBe(202);
  });

  it('answers 404 WEBHOOK_NOT_FOUND for an unknown or malformed token', async () => {
    const unknown = `${vigil.origin}/hooks/${'A'.repeat(32)}`;
    expectError(await hook(unknown, '{}'), 404, 'WEBHOOK_NOT_FOUND');
    expectError(await hook(`${vigil.origin}/hooks/short`, '{}'), 404, 'WEBHOOK_NOT_FOUND');
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expectError(await hook(`${vigil.origin}/hooks/${flipped}`, '{}'), 404, 'WEBHOOK_NOT_FOUND');
  });

  it('needs no API key, and ignores an invalid one', async () => {
    const response = await hook(`${echo.url}?source=s`, '{"x":1}', {
      'content-type': 'application/json',
      authorization: 'Basic xyz',
    });
    expect(response.status).toBe(202);
  });

  it('refuses a ?wait that is not a number of seconds from 0 to 60 with 400', async () => {
    const before = await runCount(echo.id);
    for (const wait of ['abc', '61', '-2']) {
      expectError(await hook(`${echo.url}?wait=${wait}`, '{}'), 400, 'REQUEST_INVALID');
    }
    expect(await runCount(echo.id)).toBe(before);
  });

  it('runs the current version after a PUT, at the same URL', async () => {
    const created = await vigil.api('POST', '/api/workflows', {
      name: 'evolving',
      definition: definition(
        [
          { id: 'hook', type: 'webhook' },
          { id: 'shape', type: 'transform', config: { fields: { v: 1 } } },
        ],
        [['hook', 'shape']],
      ),
    });
    const url = created.body.webhookUrl;
    expect((await hook(`${url}?wait=5`, '{}')).body.output).toEqual({ v: 1 });
    const def = structuredClone(created.body.definition);
    def.nodes[1].data.config.fields.v = 2;
    const updated = await vigil.api('PUT', `/api/workflows/${created.body.id}`, {
      definition: def,
    });
    expect(updated.body).toMatchObject({ version: 2, webhookUrl: url });
    const second = await hook(`${url}?wait=5`, '{}');
    expect(second.body.output).toEqual({ v: 2 });
    const run = await vigil.api('GET', `/api/runs/${second.body.runId}`);
    expect(run.body.workflowVersion).toBe(2);
  });

  it('answers 409 WORKFLOW_DISABLED while disabled and 404 once deleted', async () => {
    const created = await vigil.api('POST', '/api/workflows', {
      name: 'short-lived',
      enabled: false,
      definition: definition([{ id: 'hook', type: 'webhook' }], []),
    });
    expect(created.body.enabled).toBe(false);
    const url = created.body.webhookUrl;
    expectError(await hook(url, '{}'), 409, 'WORKFLOW_DISABLED');
    await vigil.api('PUT', `/api/workflows/${created.body.id}`, { enabled: true });
    expect((await hook(url, '{}')).status).toBe(202);
    expect((await vigil.api('DELETE', `/api/workflows/${created.body.id}`)).status).toBe(204);
    expectError(await hook(url, '{}'), 404, 'WEBHOOK_NOT_FOUND');
    expect(await runCount(created.body.id)).toBe(1);
  });

  it('carries an x-request-id on webhook answers, errors included', async () => {
    for (const response of [
      await hook(`${echo.url}?source=s`, '{"x":1}'),
      await hook(`${vigil.origin}/hooks/nope`, '{}'),
      await hook(echo.url, 'x', { 'content-type': 'text/plain' }),
    ]) {
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
