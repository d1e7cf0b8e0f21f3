/**
 * Evaluates a parsed expression (`expression.ts`) against a run's scope: strict equality, no coercion,
 * booleans where booleans are due. `evaluateCondition` is what the condition step calls.
 */
import { VigilError } from '../errors.ts';
import { type ExpressionAst, parseExpression } from './expression.ts';
import { describeType, lookupReference, type TemplateScope, valueToText } from './references.ts';

function typeError(message: string, position: number): VigilError {
  return new VigilError('EXPRESSION_TYPE_ERROR', message, { details: { position } });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The equality of `==`: `===` for primitives, element-wise for arrays, own-key-wise for plain
 * objects (key order ignored). An array never equals an object.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    for (const key of keys) {
      if (!Object.hasOwn(b, key) || !deepEqual(a[key], b[key])) return false;
    }
    return true;
  }
  return false;
}

/** `null`, `an array`, `an object`, `the number 5`, `the string "x"`: a value and its type. */
function describeValue(value: unknown): string {
  const type = describeType(value);
  if (type === 'null') return 'null';
  if (type === 'array' || type === 'object') return `an ${type}`;
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return `the ${type} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

function requireBoolean(value: unknown, what: string, position: number): boolean {
  if (typeof value !== 'boolean') {
    throw typeError(`${what} needs a boolean, got ${describeValue(value)}`, position);
  }
  return value;
}

function arithmetic(value: number, operator: string, position: number): number {
  if (!Number.isFinite(value)) {
    throw new VigilError(
      'EXPRESSION_ARITHMETIC_ERROR',
      `"${operator}" at position ${position} gave ${value} (division by zero or overflow)`,
      { details: { position } },
    );
  }
  return value;
}

function binary(node: Extract<ExpressionAst, { kind: 'binary' }>, a: unknown, b: unknown): unknown {
  const { operator, position } = node;
  switch (operator) {
    case '==':
    case '===':
      return deepEqual(a, b);
    case '!=':
    case '!==':
      return !deepEqual(a, b);
    case '+':
      if (typeof a === 'string' || typeof b === 'string') return valueToText(a) + valueToText(b);
      break;
    case '<':
    case '<=':
    case '>':
    case '>=':
      if (
        (typeof a === 'number' && typeof b === 'number') ||
        (typeof a === 'string' && typeof b === 'string')
      ) {
        if (operator === '<') return a < b;
        if (operator === '<=') return a <= b;
        if (operator === '>') return a > b;
        return a >= b;
      }
      throw typeError(
        `"${operator}" at position ${position} compares two numbers or two strings, ` +
          `got ${describeValue(a)} and ${describeValue(b)}`,
        position,
      );
    default:
      break;
  }
  if (typeof a !== 'number' || typeof b !== 'number') {
    const needs = operator === '+' ? 'two numbers or a string' : 'two numbers';
    throw typeError(
      `"${operator}" at position ${position} needs ${needs}, ` +
        `got ${describeValue(a)} and ${describeValue(b)}`,
      position,
    );
  }
  switch (operator) {
    case '+':
      return arithmetic(a + b, operator, position);
    case '-':
      return arithmetic(a - b, operator, position);
    case '*':
      return arithmetic(a * b, operator, position);
    case '/':
      return arithmetic(a / b, operator, position);
    default:
      return arithmetic(a % b, operator, position);
  }
}

/** Options for evaluation: `pointer` is copied into `TEMPLATE_REFERENCE_MISSING` details. */
export interface EvaluateOptions {
  pointer?: string;
}

/**
 * The value of an expression in `scope` (any type; see the module comment for the semantics).
 * Throws `VigilError`: `TEMPLATE_REFERENCE_MISSING` for a reference that does not resolve (as in
 * templates), `EXPRESSION_TYPE_ERROR` for operands of the wrong types (naming them),
 * `EXPRESSION_ARITHMETIC_ERROR` for a non-finite arithmetic result. Recursion is bounded by the
 * parser's length and depth limits.
 */
export function evaluateExpression(
  ast: ExpressionAst,
  scope: TemplateScope,
  options: EvaluateOptions = {},
): unknown {
  const evaluate = (node: ExpressionAst): unknown => {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'reference':
        return lookupReference(node.reference, scope, options.pointer);
      case 'unary': {
        const operand = evaluate(node.operand);
        if (node.operator === '!') return !requireBoolean(operand, '"!"', node.position);
        if (typeof operand !== 'number') {
          throw typeError(
            `unary "-" at position ${node.position} needs a number, got ${describeValue(operand)}`,
            node.position,
          );
        }
        return -operand;
      }
      case 'logical': {
        const what = `"${node.operator}" at position ${node.position}`;
        const left = requireBoolean(evaluate(node.left), what, node.position);
        if (node.operator === '&&' ? !left : left) return left;
        return requireBoolean(evaluate(node.right), what, node.position);
      }
      case 'binary':
        return binary(node, evaluate(node.left), evaluate(node.right));
    }
  };
  return evaluate(ast);
}

/** Parsed conditions kept, oldest out first beyond this many. */
const CACHE_LIMIT = 10_000;
const conditionCache = new Map<string, ExpressionAst>();

function parseCached(source: string): ExpressionAst {
  const cached = conditionCache.get(source);
  if (cached !== undefined) return cached;
  const ast = parseExpression(source);
  if (conditionCache.size >= CACHE_LIMIT) {
    const oldest = conditionCache.keys().next();
    if (!oldest.done) conditionCache.delete(oldest.value);
  }
  conditionCache.set(source, ast);
  return ast;
}

/**
 * Parses (cached, bounded at 10,000 sources; failures are not cached) and evaluates a condition;
 * the result must be a boolean, otherwise throws `VigilError` `EXPRESSION_NOT_BOOLEAN` naming the
 * type it got. Other errors as `parseExpression` and `evaluateExpression`.
 */
export function evaluateCondition(
  source: string,
  scope: TemplateScope,
  options: EvaluateOptions = {},
): boolean {
  const result = evaluateExpression(parseCached(source), scope, options);
  if (typeof result !== 'boolean') {
    const type = describeType(result);
    const shown = source.length > 100 ? `${source.slice(0, 100)}…` : source;
    throw new VigilError(
      'EXPRESSION_NOT_BOOLEAN',
      `Condition ${JSON.stringify(shown)} must give true or false, ` +
        `but gave ${describeValue(result)}`,
      {
        details: {
          type,
          expression: shown,
          ...(options.pointer === undefined ? {} : { pointer: options.pointer }),
        },
      },
    );
  }
  return result;
}
