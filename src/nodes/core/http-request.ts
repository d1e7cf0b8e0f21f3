import { request } from 'undici';
import { z } from 'zod';
import { VigilError } from '../../errors.ts';
import type { NodeDefinition } from '../types.ts';

const MAX_TIMEOUT_MS = 60_000;

const configSchema = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
    url: z.url({ protocol: /^https?$/, message: 'an absolute http:// or https:// URL' }),
    headers: z.record(z.string().min(1), z.string()).default({}),
    body: z.unknown().optional(),
    timeoutMs: z.number().int().positive().max(MAX_TIMEOUT_MS).default(10_000),
    /** Largest response body read; larger fails the step rather than truncating it. */
    maxResponseBytes: z
      .number()
      .int()
      .positive()
      .max(16 * 1024 * 1024)
      .default(1024 * 1024),
    /** When true (the default), a 4xx or 5xx answer fails the step. */
    failOnErrorStatus: z.boolean().default(true),
  })
  .strict();

type Config = z.infer<typeof configSchema>;

/**
 * Calls an HTTP endpoint. The response body is parsed as JSON when the server says it is JSON, kept as
 * text otherwise. Time and size are capped; a body over the cap fails the step with a clear code.
 * Known gap: requests may reach private addresses; egress rules belong to the security work (issue list:
 * "hostile-input hardening").
 */
export const httpRequestNode: NodeDefinition<Config> = {
  type: 'http-request',
  kind: 'action',
  title: 'HTTP request',
  description:
    'Calls a URL with a method, headers and a JSON or text body; returns status and body.',
  configSchema,
  outputSchema: {
    type: 'object',
    properties: {
      status: { type: 'integer' },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: { description: 'parsed JSON, or text' },
    },
  },
  defaults: { timeoutMs: MAX_TIMEOUT_MS + 1_000 },
  async run(config, context) {
    const headers: Record<string, string> = { ...config.headers };
    let body: string | undefined;
    if (config.body !== undefined && config.method !== 'GET' && config.method !== 'HEAD') {
      if (typeof config.body === 'string') {
        body = config.body;
      } else {
        body = JSON.stringify(config.body);
        if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
          headers['content-type'] = 'application/json';
        }
      }
    }
    const signal = AbortSignal.any([context.signal, AbortSignal.timeout(config.timeoutMs)]);
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(config.url, {
        method: config.method,
        headers,
        body,
        signal,
        maxRedirections: 0,
      } as Parameters<typeof request>[1]);
    } catch (cause) {
      if (signal.aborted && !context.signal.aborted) {
        throw new VigilError(
          'HTTP_TIMEOUT',
          `${config.method} ${redactUrl(config.url)} got no answer within ${config.timeoutMs} ms`,
          { cause },
        );
      }
      throw new VigilError(
        'HTTP_REQUEST_FAILED',
        `${config.method} ${redactUrl(config.url)} failed: ${(cause as Error).message}`,
        { cause },
      );
    }

    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > config.maxResponseBytes) {
        response.body.destroy();
        throw new VigilError(
          'HTTP_RESPONSE_TOO_LARGE',
          `${config.method} ${redactUrl(config.url)} answered more than ${config.maxResponseBytes} ` +
            'bytes; raise maxResponseBytes or ask for less',
        );
      }
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const responseHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined)
        responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    let parsed: unknown = text;
    if (/\bjson\b/i.test(responseHeaders['content-type'] ?? '') && text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (config.failOnErrorStatus && response.statusCode >= 400) {
      throw new VigilError(
        response.statusCode >= 500 || response.statusCode === 429
          ? 'HTTP_STATUS_RETRYABLE'
          : 'HTTP_STATUS',
        `${config.method} ${redactUrl(config.url)} answered ${response.statusCode}`,
        { details: { status: response.statusCode, body: text.slice(0, 1000) } },
      );
    }
    return { output: { status: response.statusCode, headers: responseHeaders, body: parsed } };
  },
};

/** URLs in messages lose their credentials and query string, which often carry tokens. */
function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    url.search = url.search ? '?…' : '';
    return url.toString();
  } catch {
    return '(invalid URL)';
  }
}
