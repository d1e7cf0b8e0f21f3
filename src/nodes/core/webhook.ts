import { z } from 'zod';
import type { NodeDefinition } from '../types.ts';

/**
 * Started by `POST /hooks/<token>`. Its output carries the request: `{{trigger.body.amount}}`,
 * `{{trigger.headers.x-signature}}`, `{{trigger.query.source}}`.
 */
export const webhookTrigger: NodeDefinition<Record<string, never>> = {
  type: 'webhook',
  kind: 'trigger',
  title: 'Webhook',
  description: 'Starts when a JSON body is POSTed to the workflow’s webhook URL.',
  configSchema: z.object({}).strict(),
  outputSchema: {
    type: 'object',
    properties: {
      body: { description: 'the JSON body' },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      query: { type: 'object', additionalProperties: { type: 'string' } },
    },
  },
};

/** Request headers that never reach a run: credentials of the caller, and hop-by-hop noise. */
const DROPPED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization', 'connection']);

export function webhookOutput(request: {
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
}): { body: unknown; headers: Record<string, string>; query: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.query)) {
    if (name === 'wait') continue;
    query[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return { body: request.body ?? null, headers, query };
}
