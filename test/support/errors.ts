import { expect } from 'vitest';
import { VigilError } from '../../src/errors.ts';

/** Runs `fn` and returns what it threw, failing the test when it does not throw a VigilError. */
export function thrown(fn: () => unknown): VigilError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VigilError);
    return error as VigilError;
  }
  throw new Error('expected a VigilError to be thrown');
}
