import type { RetryPolicy } from '../workflows/definition.ts';

/**
 * Which step failures are worth another attempt: the ones where the world may answer differently a moment
 * later (a network error, a timeout, a 5xx or 429). Failures of the workflow itself (bad template,
 * config, code that throws) fail the same way every time, so they are not retried. One place decides.
 */
const RETRYABLE = new Set([
  'HTTP_REQUEST_FAILED',
  'HTTP_TIMEOUT',
  'HTTP_STATUS_RETRYABLE',
  'STEP_TIMEOUT',
  'STEP_RETRYABLE',
]);

export function isRetryable(code: string): boolean {
  return RETRYABLE.has(code);
}

/** Exponential backoff with full jitter: attempt 1 failed -> wait up to initial, then 2x, 4x ... max. */
export function backoffDelayMs(policy: RetryPolicy, failedAttempt: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (failedAttempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
