import { describe, expect, it } from 'vitest';
import { evaluateCondition, evaluateExpression } from '../../src/workflows/evaluate-expression.ts';
import {
  expressionReferences,
  MAX_EXPRESSION_DEPTH,
  MAX_EXPRESSION_LENGTH,
  parseExpression,
} from '../../src/workflows/expression.ts';
import type { TemplateScope } from '../../src/workflows/references.ts';
import { thrown } from '../support/errors.ts';

const scope: TemplateScope = {
  trigger: { body: { amount: 150, name: 'Ada', tags: ['a', 'b'], meta: { x: 1, y: [2] } } },
  nodes: {
    check: { output: { status: 'ok', balance: 90, user: null, flag: true } },
    'my-node': { output: { value: 3 } },
  },
};

/** Parses and evaluates `source` in the shared scope. */
function run(source: string): unknown {
  return evaluateExpression(parseExpression(source), scope);
}

describe('parseExpression and evaluateExpression', () => {
  it('binds * tighter than +, and + tighter than ==', () => {
    expect(run('1 + 2 * 3 == 7')).toBe(true);
    expect(run('(1 + 2) * 3')).toBe(9);
    expect(run('10 - 4 - 3')).toBe(3);
    expect(run('20 / 5 / 2')).toBe(2);
    expect(run('7 % 4 * 2')).toBe(6);
  });

  it('binds && tighter than ||, and ! tighter than &&', () => {
    expect(run('true || false && false')).toBe(true);
    expect(run('(true || false) && false')).toBe(false);
    expect(run('!false && false')).toBe(false);
    expect(run('!(false && false)')).toBe(true);
  });

  it('parses number, string, boolean and null literals with escapes', () => {
    expect(run('1.5e2')).toBe(150);
    expect(run(`'it\\'s' + "\\n" + "\\u0041\\u{1F600}"`)).toBe("it's\nA\u{1F600}");
    expect(run('null')).toBeNull();
    expect(run('-3 + --2')).toBe(-1);
  });

  it('reads references in bare form with .field, .0, [0] and ["key"]', () => {
    expect(run('trigger.body.amount')).toBe(150);
    expect(run('trigger.body.tags.1 == trigger.body.tags[1]')).toBe(true);
    expect(run('trigger.body["name"] + trigger.body.meta.y[0]')).toBe('Ada2');
    expect(run('check.output.status == "ok"')).toBe(true);
  });

  it('reads references in braces form, where ids and fields may contain "-"', () => {
    expect(run('{{trigger.body.amount}} > 100')).toBe(true);
    expect(run('{{ my-node.output.value }} * 2')).toBe(6);
    expect(run('trigger.body.amount-50')).toBe(100);
  });

  it('short-circuits && and || so the undecided side is never evaluated', () => {
    expect(run('false && missing.output.x')).toBe(false);
    expect(run('true || missing.output.x')).toBe(true);
    expect(run('check.output.user != null && check.output.user.name == "x"')).toBe(false);
  });

  it('compares numbers numerically and strings lexically', () => {
    expect(run('10 > 9')).toBe(true);
    expect(run('"10" < "9"')).toBe(true);
    expect(run('"abc" <= "abd"')).toBe(true);
    expect(run('trigger.body.amount >= 150 && check.output.balance < 100')).toBe(true);
  });

  it('throws EXPRESSION_TYPE_ERROR naming both types when < or > mixes numbers and strings', () => {
    const error = thrown(() => run('trigger.body.amount > "100"'));
    expect(error.code).toBe('EXPRESSION_TYPE_ERROR');
    expect(error.message).toContain('the number 150');
    expect(error.message).toContain('the string "100"');
    expect(thrown(() => run('null < 1')).code).toBe('EXPRESSION_TYPE_ERROR');
  });

  it('uses strict equality for primitives: no coercion between types', () => {
    expect(run('1 == "1"')).toBe(false);
    expect(run('0 == false')).toBe(false);
    expect(run('null == false')).toBe(false);
    expect(run('1 != "1"')).toBe(true);
    expect(run('1 === 1.0')).toBe(true);
    expect(run('"a" !== "a"')).toBe(false);
  });

  it('compares arrays and objects deeply, ignoring key order', () => {
    const deep: TemplateScope = {
      trigger: { a: { x: 1, y: [1, { z: 'q' }] }, b: { y: [1, { z: 'q' }], x: 1 }, c: { x: 1 } },
      nodes: { n: { output: [1, 2] } },
    };
    const check = (source: string) => evaluateCondition(source, deep);
    expect(check('trigger.a == trigger.b')).toBe(true);
    expect(check('trigger.a === trigger.b')).toBe(true);
    expect(check('trigger.a != trigger.c')).toBe(true);
    expect(check('n.output == trigger.a.y')).toBe(false);
    expect(check('trigger.a.y[1] == trigger.b.y[1]')).toBe(true);
  });

  it('concatenates with + when either side is a string, and adds numbers otherwise', () => {
    expect(run('"n=" + 1 + 2')).toBe('n=12');
    expect(run('1 + 2 + "x"')).toBe('3x');
    expect(run('"t:" + trigger.body.tags + null + true')).toBe('t:["a","b"]nulltrue');
    expect(thrown(() => run('true + 1')).code).toBe('EXPRESSION_TYPE_ERROR');
    expect(thrown(() => run('"a" - 1')).code).toBe('EXPRESSION_TYPE_ERROR');
  });

  it('requires booleans for !, && and || rather than using truthiness', () => {
    expect(thrown(() => run('!trigger.body.name')).message).toContain('the string "Ada"');
    expect(thrown(() => run('1 && true')).code).toBe('EXPRESSION_TYPE_ERROR');
    expect(thrown(() => run('false || "yes"')).code).toBe('EXPRESSION_TYPE_ERROR');
  });

  it('throws EXPRESSION_ARITHMETIC_ERROR on division by zero', () => {
    expect(thrown(() => run('1 / 0')).code).toBe('EXPRESSION_ARITHMETIC_ERROR');
    expect(thrown(() => run('1 % 0')).code).toBe('EXPRESSION_ARITHMETIC_ERROR');
  });

  it('throws TEMPLATE_REFERENCE_MISSING naming the missing segment, like templates', () => {
    const error = thrown(() => run('check.output.balanse > 1'));
    expect(error.code).toBe('TEMPLATE_REFERENCE_MISSING');
    expect(error.message).toBe('{{check.output.balanse}}: check\'s output has no field "balanse"');
    expect(thrown(() => run('ghost.output.x == 1')).code).toBe('TEMPLATE_REFERENCE_MISSING');
  });

  it('passes the pointer option into missing-reference details', () => {
    const error = thrown(() =>
      evaluateExpression(parseExpression('ghost.output'), scope, { pointer: '/expression' }),
    );
    expect(error.details).toMatchObject({ pointer: '/expression', reference: 'ghost.output' });
  });
});

describe('syntax errors', () => {
  it.each([
    ['1 +', 3, 'expected a value'],
    ['(1 + 2', 6, 'expected ")" to close the "(" at position 0'],
    ['1 + 2)', 5, 'without a matching "("'],
    ['a = 1', 2, 'use "=="'],
    ['a & b', 2, 'use "&&"'],
    ['1 2', 2, 'expected an operator or the end'],
    ['"abc', 0, 'unterminated string'],
    ['trigger..x', 8, 'expected a field name after "."'],
    ['trigger[x]', 8, 'expected an index'],
    ['{{trigger.x', 0, 'unterminated "{{"'],
    ['{{ }} == 1', 0, 'empty reference'],
    ['1 < 2 < 3', 6, 'cannot be chained'],
    ['max(1, 2)', 3, 'function calls are not supported'],
    ['#', 0, 'unexpected character "#"'],
    ['1abc', 1, 'after the number'],
    ['true.x', 4, 'unexpected character "."'],
    ['', 0, 'empty'],
    ['trigger.__proto__.x', 8, 'is not allowed'],
    ['check.output["constructor"]', 13, 'is not allowed'],
  ])('rejects %j with EXPRESSION_INVALID at position %i', (source, position, expected) => {
    const error = thrown(() => parseExpression(source));
    expect(error.code).toBe('EXPRESSION_INVALID');
    expect(error.details).toEqual({ position });
    expect(error.message).toContain(expected);
    expect(error.message).toMatch(position >= source.length ? /at the end/ : /at position \d+/);
  });

  it('names the position and what was found in the message', () => {
    expect(thrown(() => parseExpression('a && && b')).message).toBe(
      'Invalid expression at position 5 (near "&& b"): expected a value ' +
        '(a number, a string, true, false, null, a reference or "("), found "&&"',
    );
  });

  it('rejects expressions longer than the length limit', () => {
    const source = `${'1 + '.repeat(MAX_EXPRESSION_LENGTH / 4)}1`;
    const error = thrown(() => parseExpression(source));
    expect(error.code).toBe('EXPRESSION_INVALID');
    expect(error.message).toContain(`at most ${MAX_EXPRESSION_LENGTH}`);
  });

  it('rejects nesting deeper than the depth limit, but accepts it up to the limit', () => {
    const nested = (depth: number) => `${'('.repeat(depth)}1${')'.repeat(depth)}`;
    expect(run(nested(MAX_EXPRESSION_DEPTH))).toBe(1);
    const error = thrown(() => parseExpression(nested(MAX_EXPRESSION_DEPTH + 1)));
    expect(error.code).toBe('EXPRESSION_INVALID');
    expect(error.message).toContain('deeper than');
    expect(thrown(() => parseExpression(`${'!'.repeat(100)}true`)).code).toBe('EXPRESSION_INVALID');
  });

  it('evaluates long flat chains within the length limit', () => {
    expect(run(`${'1 + '.repeat(1_000)}1`)).toBe(1_001);
  });
});

describe('expressionReferences', () => {
  it('lists every reference in source order, including short-circuited branches', () => {
    const ast = parseExpression(
      'false && a.output.x > 1 || {{ my-node.output.items[0]["k"] }} == trigger.body.amount',
    );
    expect(expressionReferences(ast)).toEqual([
      { root: 'a', path: ['output', 'x'], text: 'a.output.x' },
      {
        root: 'my-node',
        path: ['output', 'items', 0, 'k'],
        text: 'my-node.output.items[0]["k"]',
      },
      { root: 'trigger', path: ['body', 'amount'], text: 'trigger.body.amount' },
    ]);
  });

  it('returns no references for a literal-only expression', () => {
    expect(expressionReferences(parseExpression('1 + 2 == 3'))).toEqual([]);
  });
});

describe('evaluateCondition', () => {
  it('returns the boolean result of a condition', () => {
    expect(
      evaluateCondition('trigger.body.amount > 100 && check.output.status == "ok"', scope),
    ).toBe(true);
    expect(evaluateCondition('{{trigger.body.amount}} > 200', scope)).toBe(false);
    expect(evaluateCondition('check.output.flag', scope)).toBe(true);
  });

  it('throws EXPRESSION_NOT_BOOLEAN naming the type of a non-boolean result', () => {
    const error = thrown(() => evaluateCondition('trigger.body.amount + 1', scope));
    expect(error.code).toBe('EXPRESSION_NOT_BOOLEAN');
    expect(error.message).toContain('the number 151');
    expect(error.details).toMatchObject({ type: 'number' });
    expect(thrown(() => evaluateCondition('trigger.body.tags', scope)).details).toMatchObject({
      type: 'array',
    });
    expect(thrown(() => evaluateCondition('check.output.user', scope)).message).toContain(
      'but gave null',
    );
  });

  it('gives the same answer from the cache on repeated evaluation with different scopes', () => {
    const source = 'trigger.n > 1';
    expect(evaluateCondition(source, { trigger: { n: 2 }, nodes: {} })).toBe(true);
    expect(evaluateCondition(source, { trigger: { n: 0 }, nodes: {} })).toBe(false);
  });

  it('rethrows a syntax error each time rather than caching the failure', () => {
    expect(thrown(() => evaluateCondition('1 +', scope)).code).toBe('EXPRESSION_INVALID');
    expect(thrown(() => evaluateCondition('1 +', scope)).code).toBe('EXPRESSION_INVALID');
  });
});
