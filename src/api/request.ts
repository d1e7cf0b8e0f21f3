import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { type ApiPrincipal, verifyApiKey } from '../auth/api-keys.ts';
import { VigilError } from '../errors.ts';
import type { ApiContext } from './context.ts';

/** Parses part of a request with a zod schema; failures are 400 REQUEST_INVALID naming each field. */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, part: string): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((issue) => {
    const at = [part, ...issue.path.map(String)];
    // An unknown key is named as the field itself, so a client can point at it.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: [...at, key].join('.'), message: 'unknown field' }));
    }
    return [{ field: at.join('.'), message: issue.message }];
  });
  throw new VigilError(
    'REQUEST_INVALID',
    problems.map((p) => `${p.field}: ${p.message}`).join('; '),
    { details: { problems } },
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id in a path that cannot be a UUID names nothing: 404 with the resource's own code. */
export function pathId(value: string, notFoundCode: string, what: string): string {
  if (!UUID.test(value)) throw new VigilError(notFoundCode, `No ${what} ${value}`);
  return value.toLowerCase();
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: ApiPrincipal;
  }
}

/** The onRequest hook of /api: every route there needs `Authorization: Bearer <key>`. */
export function requireApiKey(context: ApiContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (header && !match) {
      throw new VigilError('AUTH_INVALID', 'Send the key as `Authorization: Bearer vgl_...`');
    }
    request.principal = await verifyApiKey(context.pool, match?.[1]);
  };
}

export function principalOf(request: FastifyRequest): ApiPrincipal {
  if (!request.principal) throw new Error('principalOf: route is missing requireApiKey');
  return request.principal;
}

/** `?wait=<seconds>`: how long the client is willing to wait for the run; 0 when absent. */
export function waitSeconds(raw: unknown, max: number): number {
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > max) {
    throw new VigilError('REQUEST_INVALID', `wait must be a number of seconds from 0 to ${max}`);
  }
  return value;
}
