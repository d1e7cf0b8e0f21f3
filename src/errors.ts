/**
 * The one error type of Vigil. `code` is stable and machine-readable (clients branch on it), `message` is
 * a sentence a person can act on, `details` carries structured context, `cause` the underlying error.
 * HTTP status and retry policy are decided from the code in one place each (api/errors.ts, engine/retry.ts),
 * never at the throw site.
 */
export class VigilError extends Error {
  override readonly name = 'VigilError';
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

export function isVigilError(error: unknown): error is VigilError {
  return error instanceof VigilError;
}

/** The message of anything thrown, without assuming it is an Error. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
