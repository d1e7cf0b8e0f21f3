import { z } from 'zod';
import { definitionSchema } from '../workflows/definition.ts';
import { listRunsQuery } from './routes/runs.ts';
import {
  createWorkflowBody,
  pageQuery,
  startRunBody,
  updateWorkflowBody,
  validateBody,
} from './routes/workflows.ts';

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

const errorResponse = {
  description: 'An error: a stable code, a message a person can act on, and details when useful',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string' },
              message: { type: 'string' },
              details: { type: 'object' },
            },
          },
        },
      },
    },
  },
};

const errors = {
  '400': errorResponse,
  '401': errorResponse,
  '404': errorResponse,
  '413': errorResponse,
  '422': errorResponse,
};

function body(schema: z.ZodType) {
  return { required: true, content: { 'application/json': { schema: json(schema) } } };
}

function queryParameters(schema: z.ZodObject) {
  const shape = json(schema) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(shape.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: shape.required?.includes(name) ?? false,
    schema: s,
  }));
}

const idParameter = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
};
const waitParameter = {
  name: 'wait',
  in: 'query',
  required: false,
  description: 'Seconds to wait for the run to finish before answering',
  schema: { type: 'number', minimum: 0 },
};
const ok = (description: string) => ({ description, content: { 'application/json': {} } });

/** The OpenAPI 3.1 document of the REST API and webhooks, served at GET /openapi.json. */
export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Vigil API',
      version,
      description:
        'Workflows, runs and webhooks. Every /api route needs `Authorization: Bearer <API key>`.',
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
      schemas: { WorkflowDefinition: json(definitionSchema) },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/api/nodes': {
        get: {
          summary: 'The node catalog, config as JSON Schema',
          responses: { '200': ok('node types') },
        },
      },
      '/api/workflows': {
        post: {
          summary: 'Create a workflow (version 1)',
          requestBody: body(createWorkflowBody),
          responses: { '201': ok('the workflow, with webhookUrl for webhook triggers'), ...errors },
        },
        get: {
          summary: 'List workflows, newest first',
          parameters: queryParameters(pageQuery),
          responses: { '200': ok('{ items, nextCursor }'), ...errors },
        },
      },
      '/api/workflows/validate': {
        post: {
          summary: 'Validate a definition; every problem at once',
          requestBody: body(validateBody),
          responses: { '200': ok('{ valid, problems: [{ code, message, nodeId?, field? }] }') },
        },
      },
      '/api/workflows/{id}': {
        parameters: [idParameter],
        get: { summary: 'One workflow', responses: { '200': ok('the workflow'), ...errors } },
        put: {
          summary: 'Change a workflow; a new definition makes a new version',
          requestBody: body(updateWorkflowBody),
          responses: { '200': ok('the workflow'), ...errors },
        },
        delete: {
          summary: 'Delete a workflow (its runs stay)',
          responses: { '204': { description: 'deleted' }, ...errors },
        },
      },
      '/api/workflows/{id}/runs': {
        parameters: [idParameter, waitParameter],
        post: {
          summary: 'Start a run',
          requestBody: body(startRunBody),
          responses: {
            '202': ok('{ runId }: queued or running; with ?wait, the run itself, still running'),
            '200': ok('with ?wait: the run itself (and its steps), finished within the wait'),
            ...errors,
          },
        },
      },
      '/api/runs': {
        get: {
          summary: 'List runs, newest first (keyset pagination)',
          parameters: queryParameters(listRunsQuery),
          responses: { '200': ok('{ items, nextCursor }'), ...errors },
        },
      },
      '/api/runs/{id}': {
        parameters: [idParameter],
        get: { summary: 'A run with its steps', responses: { '200': ok('the run'), ...errors } },
      },
      '/api/runs/{id}/cancel': {
        parameters: [idParameter],
        post: {
          summary: 'Cancel a queued or running run',
          responses: {
            '200': ok('{ status: cancelled }: it had not started'),
            '202': ok('{ status: cancelling }: it stops at the next step boundary'),
            '409': errorResponse,
            ...errors,
          },
        },
      },
      '/hooks/{token}': {
        parameters: [
          { name: 'token', in: 'path', required: true, schema: { type: 'string' } },
          waitParameter,
        ],
        post: {
          summary:
            "Trigger a webhook workflow; headers, query and JSON body reach the trigger's output",
          security: [],
          requestBody: { content: { 'application/json': { schema: {} } } },
          responses: {
            '202': ok('{ runId }: durably queued'),
            '200': ok('{ runId, status, output, error }: finished within ?wait'),
            '415': errorResponse,
            ...errors,
          },
        },
      },
    },
  };
}
