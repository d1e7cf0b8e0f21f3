/**
 * The boolean expression of the `condition` step: `trigger.body.amount > 100 && check.output.ok`.
 *
 * A hand-written tokenizer and recursive-descent parser produce an AST, which
 * `evaluate-expression.ts` walks.
 * Nothing is ever handed to a JavaScript engine, and there are no function calls, so an expression
 * can only read the scope and compute a value.
 *
 * Grammar, loosest binding first:
 *
 *     expression := or
 *     or         := and ('||' and)*
 *     and        := equality ('&&' equality)*
 *     equality   := comparison (('==' | '!=' | '===' | '!==') comparison)*
 *     comparison := additive (('<' | '<=' | '>' | '>=') additive)?     -- not chainable
 *     additive   := multiply (('+' | '-') multiply)*
 *     multiply   := unary (('*' | '/' | '%') unary)*
 *     unary      := ('!' | '-') unary | primary
 *     primary    := number | string | 'true' | 'false' | 'null' | reference | '(' expression ')'
 *     reference  := path | '{{' path '}}'     -- same roots and segments as templates.ts
 *
 * Semantics (deliberately stricter than JavaScript, so a condition means what it reads as):
 * - `==`/`===` are the same: strict equality for primitives (`1 == "1"` is false), deep equality
 *   for arrays and plain objects (same length / same own keys, members deep-equal); `!=`/`!==`
 *   negate it.
 * - `<` `<=` `>` `>=` compare two numbers numerically or two strings by UTF-16 code units; any
 *   other pairing throws `EXPRESSION_TYPE_ERROR`.
 * - `!`, `&&`, `||` take booleans only (no truthiness); `&&`/`||` short-circuit, so the right side
 *   is not evaluated (and cannot fail) when the left side decides.
 * - `+` adds two numbers, or concatenates when either side is a string (the other side as text, as
 *   in template interpolation); `-` `*` `/` `%` and unary `-` take numbers. A non-finite result
 *   (division by zero, overflow) throws `EXPRESSION_ARITHMETIC_ERROR`.
 * - In bare form ids and fields cannot contain `-` (it is subtraction there): write
 *   `{{my-node.output.x}}` or `x["my-field"]`. `true`, `false`, `null` are literals, never roots.
 */
import { VigilError } from '../errors.ts';
import {
  type ReferenceSyntax,
  scanReference,
  scanStringLiteral,
  type TemplateReference,
} from './references.ts';

/** Longest expression accepted, in UTF-16 code units. */
export const MAX_EXPRESSION_LENGTH = 4_096;
/** Deepest nesting of parentheses and unary operators accepted. */
export const MAX_EXPRESSION_DEPTH = 64;

/** Binary operators other than the short-circuiting `&&` and `||`. */
export type BinaryOperator =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '<'
  | '<='
  | '>'
  | '>='
  | '=='
  | '!='
  | '==='
  | '!==';

/**
 * A parsed expression. `position` is the 0-based offset in the source where the node starts (for a
 * binary node, where its operator is), for error messages.
 */
export type ExpressionAst =
  | { kind: 'literal'; value: string | number | boolean | null; position: number }
  | { kind: 'reference'; reference: TemplateReference; position: number }
  | { kind: 'unary'; operator: '!' | '-'; operand: ExpressionAst; position: number }
  | {
      kind: 'binary';
      operator: BinaryOperator;
      left: ExpressionAst;
      right: ExpressionAst;
      position: number;
    }
  | {
      kind: 'logical';
      operator: '&&' | '||';
      left: ExpressionAst;
      right: ExpressionAst;
      position: number;
    };

// -------------------------------------------------------------------------------------------------
// Tokenizer
// -------------------------------------------------------------------------------------------------

type Token =
  | { kind: 'number'; value: number; position: number; text: string }
  | { kind: 'string'; value: string; position: number; text: string }
  | { kind: 'keyword'; value: boolean | null; position: number; text: string }
  | { kind: 'reference'; reference: TemplateReference; position: number; text: string }
  | { kind: 'operator'; position: number; text: string }
  | { kind: 'end'; position: number; text: string };

const OPERATORS = [
  '===',
  '!==',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '<',
  '>',
  '!',
  '+',
  '-',
  '*',
  '/',
  '%',
  '(',
  ')',
] as const;

const KEYWORDS: ReadonlyMap<string, boolean | null> = new Map([
  ['true', true],
  ['false', false],
  ['null', null],
]);

const NUMBER = /[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;

function invalid(source: string, position: number, message: string): VigilError {
  const near = source.slice(position, position + 20);
  const where = position >= source.length ? 'at the end' : `at position ${position}`;
  const shown = position >= source.length ? '' : ` (near ${JSON.stringify(near)})`;
  return new VigilError('EXPRESSION_INVALID', `Invalid expression ${where}${shown}: ${message}`, {
    details: { position },
  });
}

function isSpace(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\r';
}

function isWordChar(char: string | undefined): boolean {
  return char !== undefined && /[A-Za-z0-9_$]/.test(char);
}

function scanBracedReference(source: string, open: number): Token {
  let i = open + 2;
  while (isSpace(source[i])) i++;
  if (source.startsWith('}}', i)) throw invalid(source, open, 'empty reference "{{ }}"');
  if (i >= source.length) throw invalid(source, open, 'unterminated "{{" (no closing "}}")');
  const scanned = scan(source, i, 'template');
  i = scanned.end;
  while (isSpace(source[i])) i++;
  if (!source.startsWith('}}', i)) {
    throw i >= source.length
      ? invalid(source, open, 'unterminated "{{" (no closing "}}")')
      : invalid(source, i, 'expected "}}" to end the reference');
  }
  return {
    kind: 'reference',
    reference: scanned.reference,
    position: open,
    text: source.slice(open, i + 2),
  };
}

function scan(
  source: string,
  start: number,
  syntax: ReferenceSyntax,
): { reference: TemplateReference; end: number } {
  const scanned = scanReference(source, start, syntax);
  if (!scanned.ok) throw invalid(source, scanned.position, scanned.message);
  return scanned;
}

/** Yields tokens one at a time, so errors surface in source order as the parser pulls. */
function* tokenize(source: string): Generator<Token, Token> {
  let i = 0;
  while (i < source.length) {
    const char = source[i]!;
    if (isSpace(char)) {
      i++;
      continue;
    }
    if (char >= '0' && char <= '9') {
      NUMBER.lastIndex = i;
      const text = NUMBER.exec(source)![0];
      const end = i + text.length;
      if (isWordChar(source[end]) || source[end] === '.') {
        throw invalid(source, end, `unexpected ${JSON.stringify(source[end])} after the number`);
      }
      const value = Number(text);
      if (!Number.isFinite(value)) throw invalid(source, i, 'number out of range');
      yield { kind: 'number', value, position: i, text };
      i = end;
      continue;
    }
    if (char === '"' || char === "'") {
      const scanned = scanStringLiteral(source, i);
      if (!scanned.ok) throw invalid(source, scanned.position, scanned.message);
      yield {
        kind: 'string',
        value: scanned.value,
        position: i,
        text: source.slice(i, scanned.end),
      };
      i = scanned.end;
      continue;
    }
    if (char === '{' && source[i + 1] === '{') {
      const token = scanBracedReference(source, i);
      yield token;
      i += token.text.length;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(source)?.[0];
    if (word !== undefined) {
      const keyword = KEYWORDS.get(word);
      if (keyword !== undefined) {
        yield { kind: 'keyword', value: keyword, position: i, text: word };
        i += word.length;
        continue;
      }
      const scanned = scan(source, i, 'bare');
      yield {
        kind: 'reference',
        reference: scanned.reference,
        position: i,
        text: source.slice(i, scanned.end),
      };
      i = scanned.end;
      continue;
    }
    const operator = OPERATORS.find((candidate) => source.startsWith(candidate, i));
    if (operator !== undefined) {
      yield { kind: 'operator', position: i, text: operator };
      i += operator.length;
      continue;
    }
    const hint =
      char === '='
        ? ' (use "==" to compare)'
        : char === '&'
          ? ' (use "&&")'
          : char === '|'
            ? ' (use "||")'
            : '';
    throw invalid(source, i, `unexpected character ${JSON.stringify(char)}${hint}`);
  }
  return { kind: 'end', position: source.length, text: '' };
}

// -------------------------------------------------------------------------------------------------
// Parser
// -------------------------------------------------------------------------------------------------

const LOGICAL_OR = new Set(['||']);
const LOGICAL_AND = new Set(['&&']);
const EQUALITY = new Set(['==', '!=', '===', '!==']);
const COMPARISON = new Set(['<', '<=', '>', '>=']);
const ADDITIVE = new Set(['+', '-']);
const MULTIPLICATIVE = new Set(['*', '/', '%']);

function describeToken(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the expression';
    case 'number':
      return `the number ${token.text}`;
    case 'string':
      return `the string ${token.text}`;
    case 'reference':
      return `the reference ${token.text}`;
    default:
      return JSON.stringify(token.text);
  }
}

class Parser {
  private depth = 0;
  private readonly tokens: Generator<Token, Token>;
  private lookahead: Token;

  constructor(private readonly source: string) {
    this.tokens = tokenize(source);
    this.lookahead = this.pull();
  }

  private pull(): Token {
    return this.tokens.next().value;
  }

  parse(): ExpressionAst {
    if (this.lookahead.kind === 'end') {
      throw invalid(this.source, this.source.length, 'the expression is empty');
    }
    const ast = this.parseOr();
    const next = this.peek();
    if (next.kind !== 'end') {
      const closing = next.kind === 'operator' && next.text === ')';
      throw this.fail(
        next,
        closing ? 'found ")" without a matching "("' : 'expected an operator or the end',
      );
    }
    return ast;
  }

  private peek(): Token {
    return this.lookahead;
  }

  private next(): Token {
    const token = this.lookahead;
    if (token.kind !== 'end') this.lookahead = this.pull();
    return token;
  }

  private operatorIn(set: ReadonlySet<string>): string | undefined {
    const token = this.peek();
    return token.kind === 'operator' && set.has(token.text) ? token.text : undefined;
  }

  private fail(token: Token, expected: string): VigilError {
    return invalid(this.source, token.position, `${expected}, found ${describeToken(token)}`);
  }

  private enter(token: Token): void {
    this.depth++;
    if (this.depth > MAX_EXPRESSION_DEPTH) {
      throw invalid(
        this.source,
        token.position,
        `expression nests deeper than ${MAX_EXPRESSION_DEPTH} levels`,
      );
    }
  }

  private parseOr(): ExpressionAst {
    let left = this.parseAnd();
    while (this.operatorIn(LOGICAL_OR) !== undefined) {
      const position = this.next().position;
      left = { kind: 'logical', operator: '||', left, right: this.parseAnd(), position };
    }
    return left;
  }

  private parseAnd(): ExpressionAst {
    let left = this.parseEquality();
    while (this.operatorIn(LOGICAL_AND) !== undefined) {
      const position = this.next().position;
      left = { kind: 'logical', operator: '&&', left, right: this.parseEquality(), position };
    }
    return left;
  }

  private parseEquality(): ExpressionAst {
    let left = this.parseComparison();
    for (let op = this.operatorIn(EQUALITY); op !== undefined; op = this.operatorIn(EQUALITY)) {
      const position = this.next().position;
      const right = this.parseComparison();
      left = { kind: 'binary', operator: op as BinaryOperator, left, right, position };
    }
    return left;
  }

  private parseComparison(): ExpressionAst {
    const left = this.parseAdditive();
    const op = this.operatorIn(COMPARISON);
    if (op === undefined) return left;
    const position = this.next().position;
    const right = this.parseAdditive();
    const again = this.peek();
    if (this.operatorIn(COMPARISON) !== undefined) {
      throw invalid(
        this.source,
        again.position,
        'comparisons cannot be chained; join them with "&&" (a < b && b < c)',
      );
    }
    return { kind: 'binary', operator: op as BinaryOperator, left, right, position };
  }

  private parseAdditive(): ExpressionAst {
    let left = this.parseMultiplicative();
    for (let op = this.operatorIn(ADDITIVE); op !== undefined; op = this.operatorIn(ADDITIVE)) {
      const position = this.next().position;
      const right = this.parseMultiplicative();
      left = { kind: 'binary', operator: op as BinaryOperator, left, right, position };
    }
    return left;
  }

  private parseMultiplicative(): ExpressionAst {
    let left = this.parseUnary();
    for (
      let op = this.operatorIn(MULTIPLICATIVE);
      op !== undefined;
      op = this.operatorIn(MULTIPLICATIVE)
    ) {
      const position = this.next().position;
      const right = this.parseUnary();
      left = { kind: 'binary', operator: op as BinaryOperator, left, right, position };
    }
    return left;
  }

  private parseUnary(): ExpressionAst {
    const token = this.peek();
    if (token.kind === 'operator' && (token.text === '!' || token.text === '-')) {
      this.next();
      this.enter(token);
      const operand = this.parseUnary();
      this.depth--;
      return { kind: 'unary', operator: token.text, operand, position: token.position };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): ExpressionAst {
    const token = this.next();
    switch (token.kind) {
      case 'number':
      case 'string':
      case 'keyword':
        return { kind: 'literal', value: token.value, position: token.position };
      case 'reference': {
        const after = this.peek();
        if (after.kind === 'operator' && after.text === '(') {
          throw invalid(this.source, after.position, 'function calls are not supported');
        }
        return { kind: 'reference', reference: token.reference, position: token.position };
      }
      case 'operator':
        if (token.text === '(') {
          this.enter(token);
          const inner = this.parseOr();
          const close = this.next();
          if (close.kind !== 'operator' || close.text !== ')') {
            throw this.fail(close, `expected ")" to close the "(" at position ${token.position}`);
          }
          this.depth--;
          return inner;
        }
        break;
      default:
        break;
    }
    throw this.fail(
      token,
      'expected a value (a number, a string, true, false, null, a reference or "(")',
    );
  }
}

/**
 * Parses a condition expression into an AST (not cached; `evaluateCondition` caches). Throws
 * `VigilError` `EXPRESSION_INVALID` — message with the 0-based position, a snippet and what was
 * expected, details `{ position }` — for syntax errors, a bad reference path or forbidden segment,
 * function calls, chained comparisons, more than 4,096 characters or nesting deeper than 64.
 */
export function parseExpression(source: string): ExpressionAst {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new VigilError(
      'EXPRESSION_INVALID',
      `Invalid expression: it is ${source.length} characters long, ` +
        `at most ${MAX_EXPRESSION_LENGTH} are allowed`,
      { details: { position: MAX_EXPRESSION_LENGTH } },
    );
  }
  return new Parser(source).parse();
}

/** Every reference in an expression, in source order (both branches of `&&`/`||` included). */
export function expressionReferences(ast: ExpressionAst): TemplateReference[] {
  const found: TemplateReference[] = [];
  const visit = (node: ExpressionAst): void => {
    switch (node.kind) {
      case 'reference':
        found.push(node.reference);
        break;
      case 'unary':
        visit(node.operand);
        break;
      case 'binary':
      case 'logical':
        visit(node.left);
        visit(node.right);
        break;
      default:
        break;
    }
  };
  visit(ast);
  return found;
}
