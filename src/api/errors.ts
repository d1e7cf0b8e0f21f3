import type { FastifyError, FastifyInstance } from 'fastify';
import { isVigilError } from '../errors.ts';

/**
 * HTTP status by error code: the one place that decides it. Codes not listed are failures of ours (500),
 * whose details stay in the log; the client gets the request id to quote.
 */
const STATUS_BY_CODE: Record<string, number> = {
  REQUEST_INVALID: 400,
  BODY_INVALID_JSON: 400,
  CURSOR_INVALID: 400,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  AUTH_REVOKED: 401,
  AUTH_EXPIRED: 401,
  ORGANIZATION_DEACTIVATED: 403,
  ROUTE_NOT_FOUND: 404,
  WORKFLOW_NOT_FOUND: 404,
  WORKFLOW_VERSION_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  WEBHOOK_NOT_FOUND: 404,
  WORKFLOW_DISABLED: 409,
  RUN_ALREADY_FINISHED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_FAILED: 422,
};

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function statusOf(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: {
        code: 'ROUTE_NOT_FOUND',
        message: `No route ${request.method} ${request.url.split('?')[0]}`,
      },
    } satisfies ErrorBody);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isVigilError(error)) {
      const status = statusOf(error.code);
      if (status >= 500) request.log.error({ err: error }, 'request failed');
      const body: ErrorBody = { error: { code: error.code, message: error.message } };
      if (error.details && status < 500) body.error.details = error.details;
      return reply.code(status).send(body);
    }
    const framework = frameworkError(error);
    if (framework) return reply.code(framework.status).send({ error: framework.error });
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({
      error: {
        code: 'INTERNAL_ERROR',
        message: `Something went wrong on our side; quote request id ${request.id} when reporting it`,
      },
    } satisfies ErrorBody);
  });
}

/** Fastify's own rejections (body too large, bad JSON, wrong content type) in our error shape. */
function frameworkError(error: FastifyError): ({ status: number } & ErrorBody) | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        error: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is over the size limit' },
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: 'Send the body as JSON, with Content-Type: application/json',
        },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        status: 400,
        error: {
          code: 'BODY_INVALID_JSON',
          message: `The body is not valid JSON: ${error.message}`,
        },
      };
    default:
      if (error instanceof SyntaxError || error.statusCode === 400) {
        return {
          status: 400,
          error: {
            code: 'BODY_INVALID_JSON',
            message: `The body is not valid JSON: ${error.message}`,
          },
        };
      }
      return undefined;
  }
}
