import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CodeRunRequest,
  type CodeSandbox,
  createCodeSandbox,
} from '../../src/engine/sandbox/code-sandbox.ts';
import { VigilError } from '../../src/errors.ts';

const MiB = 1024 * 1024;
const limits = { timeoutMs: 2000, memoryLimitBytes: 16 * MiB, maxOutputBytes: 64 * 1024 };

/** The VigilError a run rejects with (fails the test if it resolves or rejects otherwise). */
async function failure(promise: Promise<unknown>): Promise<VigilError> {
  try {
    const value = await promise;
    throw new Error(`expected the run to fail, it returned ${JSON.stringify(value)}`);
  } catch (error) {
    if (!(error instanceof VigilError)) throw error;
    return error;
  }
}

describe('code sandbox', () => {
  let sandbox: CodeSandbox;
  const run = (code: string, input: unknown = {}, overrides: Partial<CodeRunRequest> = {}) =>
    sandbox.run({ code, input, ...limits, ...overrides });

  beforeAll(() => {
    sandbox = createCodeSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });

  describe('results', () => {
    it('returns a value computed from the input', async () => {
      expect(
        await run('return input.trigger.body.amount * 2', { trigger: { body: { amount: 21 } } }),
      ).toBe(42);
    });

    it('turns an undefined return, or no return at all, into null', async () => {
      expect(await run('return undefined')).toBeNull();
      expect(await run('const x = 1;')).toBeNull();
    });

    it('round-trips objects and arrays through JSON', async () => {
      const input = { list: [1, 'two', { three: [3] }, null, true], text: 'héllo ✓', n: -1.5 };
      expect(await run('return input', input)).toEqual(input);
      expect(await run('return { items: input.list.slice(0, 2), at: new Date(0) }', input)).toEqual(
        {
          items: [1, 'two'],
          at: '1970-01-01T00:00:00.000Z',
        },
      );
    });

    it('gives each run its own copy of the input and a fresh global scope', async () => {
      const input = { count: 1 };
      await run('input.count = 99; globalThis.leaked = "secret"; Object.prototype.evil = 1', input);
      expect(input.count).toBe(1);
      expect(await run('return [typeof leaked, typeof ({}).evil]')).toEqual([
        'undefined',
        'undefined',
      ]);
    });

    it('lets the code await promises it settles itself', async () => {
      const code = 'const v = await Promise.resolve(input.a); await null; return v * 2';
      expect(await run(code, { a: 21 })).toBe(42);
    });

    it('rejects code awaiting a promise that never settles with CODE_ERROR', async () => {
      const error = await failure(run('await new Promise(() => {}); return 1'));
      expect(error.code).toBe('CODE_ERROR');
      expect(error.message).toMatch(/never settles/);
    });
  });

  describe('limits', () => {
    it('stops an endless loop with CODE_TIMEOUT by timeoutMs + 500 ms; then runs', async () => {
      const started = performance.now();
      const error = await failure(run('while (true) {}', {}, { timeoutMs: 300 }));
      const elapsed = performance.now() - started;
      expect(error.code).toBe('CODE_TIMEOUT');
      expect(error.message).toBe('The code step ran longer than its 300 ms limit and was stopped');
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(800);
      expect(await run('return input.a + 1', { a: 1 })).toBe(2);
    });

    it('keeps the main event loop free while a step loops', async () => {
      const loop = failure(run('while (true) {}', {}, { timeoutMs: 400 }));
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(performance.now() - started).toBeLessThan(200);
      expect((await loop).code).toBe('CODE_TIMEOUT');
    });

    it.each([
      ['a huge string', "return 'x'.repeat(1e9)"],
      [
        'an ever-growing array of strings',
        "const a = []; while (true) a.push('x'.repeat(1000) + a.length)",
      ],
      ['an ever-growing array of objects', 'const a = []; while (true) a.push({ n: a.length })'],
      [
        'typed arrays kept in a global',
        'globalThis.k = []; while (true) k.push(new Uint8Array(1e5))',
      ],
    ])(
      'stops a memory bomb (%s) with CODE_MEMORY_LIMIT, then runs the next step',
      async (_, code) => {
        const error = await failure(run(code));
        expect(error.code).toBe('CODE_MEMORY_LIMIT');
        expect(error.message).toBe(
          'The code step used more than its 16 MiB memory limit and was stopped; ' +
            'work on less data at once or raise the limit',
        );
        expect(await run('return input.a + 1', { a: 1 })).toBe(2);
      },
    );

    it('enforces the memory limit as a total, not per allocation', async () => {
      // 40 blocks of 1 MiB each fit under 64 MiB but not under 16 MiB.
      const code =
        'const k = []; for (let i = 0; i < 40; i++) k.push(new Uint8Array(1 << 20));' +
        'return k.length';
      expect(await run(code, {}, { memoryLimitBytes: 64 * MiB })).toBe(40);
      expect((await failure(run(code))).code).toBe('CODE_MEMORY_LIMIT');
    });

    it('terminates and replaces a worker stuck in a builtin QuickJS cannot interrupt', async () => {
      // A naive substring search: ~1e10 steps inside one builtin call, with no interrupt check.
      const code = "const s = 'a'.repeat(2e5); return s.indexOf('a'.repeat(1e5) + 'b')";
      const started = performance.now();
      const error = await failure(run(code, {}, { timeoutMs: 100 }));
      expect(error.code).toBe('CODE_TIMEOUT');
      expect(performance.now() - started).toBeLessThan(100 + 500);
      const answers = await Promise.all([1, 2, 3].map((a) => run('return input.a', { a })));
      expect(answers).toEqual([1, 2, 3]);
    });
  });

  describe('errors', () => {
    it('reports a thrown error as CODE_ERROR with its message and line', async () => {
      const error = await failure(run("const a = 1;\nthrow new TypeError('amount is missing');"));
      expect(error.code).toBe('CODE_ERROR');
      expect(error.message).toMatch(
        /^The code step threw TypeError: amount is missing at line 2, column \d+$/,
      );
      expect(error.details).toMatchObject({ name: 'TypeError', line: 2 });
    });

    it('reports a runtime TypeError as CODE_ERROR with where it happened', async () => {
      const error = await failure(run('\n  return input.missing.field', {}));
      expect(error.code).toBe('CODE_ERROR');
      expect(error.message).toMatch(
        /^The code step threw TypeError: cannot read property 'field' of undefined at line 2, /,
      );
    });

    it('reports a thrown non-error value as CODE_ERROR', async () => {
      const error = await failure(run("throw 'no luck'"));
      expect(error.code).toBe('CODE_ERROR');
      expect(error.message).toBe('The code step threw no luck');
    });

    it('reports a syntax error as CODE_ERROR', async () => {
      const error = await failure(run('const = 1;'));
      expect(error.code).toBe('CODE_ERROR');
      expect(error.message).toMatch(/^The code step has a syntax error at line 1, column \d+: /);
      const unfinished = await failure(run('return (1 + '));
      expect(unfinished.message).toMatch(
        /^The code step has a syntax error at the end of the code/,
      );
    });

    it('reports deep recursion or nesting as CODE_ERROR (stack overflow); then runs', async () => {
      const error = await failure(run('function f(n) { return f(n + 1) + 1 } return f(0)'));
      expect(error.code).toBe('CODE_ERROR');
      expect(error.message).toMatch(/stack overflow/);
      // Deep nesting makes the parser recurse: QuickJS must refuse it before the thread's stack.
      const nested = `return ${'('.repeat(1e5)}1${')'.repeat(1e5)}`;
      const parser = await failure(run(nested));
      expect(parser.code).toBe('CODE_ERROR');
      expect(parser.message).toMatch(/stack overflow/);
      expect(await run('return 1')).toBe(1);
    });
  });

  describe('isolation', () => {
    it('gives the code no process, require, fetch, timers, console or host globals', async () => {
      const names = [
        'process',
        'require',
        'module',
        'fetch',
        'setTimeout',
        'setInterval',
        'setImmediate',
        'queueMicrotask',
        'console',
        'Buffer',
        'WebAssembly',
        'XMLHttpRequest',
        'WebSocket',
        'std',
        'os',
        'print',
        'scriptArgs',
      ];
      const types = await run(
        'return Object.fromEntries(input.names.map((n) => [n, typeof globalThis[n]]))',
        { names },
      );
      expect(types).toEqual(Object.fromEntries(names.map((name) => [name, 'undefined'])));
      expect(await run('return typeof require === "undefined" && typeof process')).toBe(
        'undefined',
      );
    });

    it('cannot import modules, from the host or anywhere else', async () => {
      const error = await failure(run("const fs = await import('node:fs'); return 1"));
      expect(error.code).toBe('CODE_ERROR');
      expect(error.message).toMatch(/could not load module 'node:fs'/);
    });

    it('keeps 20 concurrent runs apart: each gets the answer for its own input', async () => {
      const code = `
        globalThis.mine = input.i;
        let sum = 0;
        for (let k = 0; k < 20000; k++) sum += input.i;
        await null;
        return { i: globalThis.mine, sum };`;
      const runs = Array.from({ length: 20 }, (_, i) => run(code, { i }));
      expect(await Promise.all(runs)).toEqual(
        Array.from({ length: 20 }, (_, i) => ({ i, sum: i * 20000 })),
      );
    });
  });

  describe('output', () => {
    it('refuses JSON over maxOutputBytes (UTF-8) with CODE_OUTPUT_TOO_LARGE', async () => {
      const error = await failure(run("return 'x'.repeat(2000)", {}, { maxOutputBytes: 1000 }));
      expect(error.code).toBe('CODE_OUTPUT_TOO_LARGE');
      expect(error.message).toMatch(/above its limit of 1000 bytes/);
      // 400 characters of two bytes each, plus quotes: 802 bytes.
      const wide = await failure(run("return 'é'.repeat(400)", {}, { maxOutputBytes: 801 }));
      expect(wide.code).toBe('CODE_OUTPUT_TOO_LARGE');
      expect(wide.details).toMatchObject({ bytes: 802 });
      expect(await run("return 'é'.repeat(400)", {}, { maxOutputBytes: 802 })).toHaveLength(400);
    });

    it.each([
      ['a function', 'return () => 1', /the returned value is a function/],
      ['a function inside an object', 'return { ok: 1, run() {} }', /"run" holds a function/],
      ['a symbol', "return Symbol('s')", /symbol/],
      ['a BigInt', 'return 10n', /BigInt/],
      ['a cycle', 'const a = {}; a.self = a; return a', /circular/],
    ])('refuses %s as output with CODE_OUTPUT_INVALID', async (_, code, reason) => {
      const error = await failure(run(code));
      expect(error.code).toBe('CODE_OUTPUT_INVALID');
      expect(error.message).toMatch(
        /^The code step returned a value that cannot be turned into JSON/,
      );
      expect(error.message).toMatch(reason);
    });
  });

  describe('requests', () => {
    it('rejects input that has no JSON form with CODE_INPUT_INVALID', async () => {
      const error = await failure(run('return 1', { n: 1n }));
      expect(error.code).toBe('CODE_INPUT_INVALID');
    });

    it('rejects limits that make no sense with CODE_REQUEST_INVALID', async () => {
      const error = await failure(run('return 1', {}, { timeoutMs: 0, memoryLimitBytes: 10 }));
      expect(error.code).toBe('CODE_REQUEST_INVALID');
      expect(error.message).toMatch(/timeoutMs must be a positive number up to 86400000/);
      expect(error.message).toMatch(/memoryLimitBytes must be at least 1048576/);
    });
  });
});

describe('code sandbox lifecycle', () => {
  it('after close(), rejects running, queued and later runs with CODE_SANDBOX_CLOSED', async () => {
    const sandbox = createCodeSandbox({ workers: 1 });
    expect(await sandbox.run({ code: 'return 1', input: null, ...limits })).toBe(1);
    const running = failure(sandbox.run({ code: 'while (true) {}', input: null, ...limits }));
    const queued = failure(sandbox.run({ code: 'return 2', input: null, ...limits }));
    await sandbox.close();
    expect((await running).code).toBe('CODE_SANDBOX_CLOSED');
    expect((await queued).code).toBe('CODE_SANDBOX_CLOSED');
    const later = await failure(sandbox.run({ code: 'return 3', input: null, ...limits }));
    expect(later.code).toBe('CODE_SANDBOX_CLOSED');
    await sandbox.close();
  });
});
