/**
 * References to the trigger's and earlier steps' outputs: their syntax (scanned here, for templates and
 * expressions alike) and their lookup in a run's scope.
 *
 * - the root is `trigger` (the trigger's output) or a node id (`/^[A-Za-z_][A-Za-z0-9_-]*$/`); what
 *   follows a node id is looked up in `{ output: <that node's output> }`, so `check.output.balance`;
 * - then any number of `.field`, `.0` (an index), `[0]` or `["key"]` / `['key']` (any key, with
 *   escapes);
 * - `__proto__`, `constructor` and `prototype` are refused anywhere, and lookups read own
 *   properties only, so a reference can never reach into an object's prototype chain.
 */
import { VigilError } from '../errors.ts';

/**
 * One parsed reference. `root` is `'trigger'` or a node id; `path` the segments after the root (for
 * a node it normally starts with `'output'`; numbers are array indexes); `text` the original
 * reference text, trimmed, without the braces. References returned by this module are frozen (they
 * are shared with the parse cache), so copy before changing one.
 */
export interface TemplateReference {
  root: string;
  path: (string | number)[];
  text: string;
}

/**
 * What references resolve against: the trigger's output and each earlier node's output by node id.
 * A node present here has run; its `output` is what `<id>.output` refers to.
 */
export interface TemplateScope {
  trigger: unknown;
  nodes: Record<string, { output: unknown }> | Map<string, { output: unknown }>;
}

/** The root that names the trigger's output; a node can therefore not be called `trigger`. */
export const TRIGGER_ROOT = 'trigger';

/**
 * Path segments refused at parse time. Lookups already read own properties only; refusing these
 * names outright keeps them out of stored workflows and makes the intent obvious to whoever reads
 * the error.
 */
export const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

// -------------------------------------------------------------------------------------------------
// Scanning (shared with expression.ts)
// -------------------------------------------------------------------------------------------------

/**
 * The result of `scanReference`/`scanStringLiteral`: scanners never throw, so each caller can turn
 * a failure into its own error code and message. `position` is a 0-based offset into the scanned
 * source.
 */
export type ScanResult<T> =
  | ({ ok: true; end: number } & T)
  | { ok: false; position: number; message: string };

/**
 * Which reference spelling to scan. `template` (inside `{{ }}`) allows `-` in node ids and field
 * names; `bare` (an expression outside braces) does not, since there `a-b` is a subtraction. In
 * bare form a hyphenated id or field is written `{{my-node.output.x}}` or `x["my-field"]`.
 */
export type ReferenceSyntax = 'template' | 'bare';

function isRootStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isRootPart(code: number, syntax: ReferenceSyntax): boolean {
  return isRootStart(code) || isDigit(code) || (code === 45 && syntax === 'template');
}

function isFieldPart(code: number, syntax: ReferenceSyntax): boolean {
  return isRootPart(code, syntax) || code === 36; // `$` is common in JSON field names
}

const CANONICAL_INDEX = /^(?:0|[1-9][0-9]*)$/;

/** Turns an all-digit segment into an index when it is a canonical, safe integer. */
function indexOf(digits: string): number | undefined {
  if (!CANONICAL_INDEX.test(digits)) return undefined;
  const index = Number(digits);
  return Number.isSafeInteger(index) ? index : undefined;
}

/**
 * Scans a quoted string (`'…'` or `"…"`) starting at `start` (the quote). Escapes: `\\ \' \" \/ \n
 * \r \t \b \f \v \0 \uXXXX \u{X…}`; any other escape is an error, as is a missing closing quote.
 */
export function scanStringLiteral(source: string, start: number): ScanResult<{ value: string }> {
  const quote = source[start];
  if (quote !== '"' && quote !== "'") {
    return { ok: false, position: start, message: 'expected a quoted string' };
  }
  let value = '';
  let i = start + 1;
  let chunkStart = i;
  while (i < source.length) {
    const char = source[i];
    if (char === quote) {
      value += source.slice(chunkStart, i);
      return { ok: true, value, end: i + 1 };
    }
    if (char !== '\\') {
      i++;
      continue;
    }
    value += source.slice(chunkStart, i);
    const escaped = source[i + 1];
    let consumed = 2;
    switch (escaped) {
      case '\\':
      case "'":
      case '"':
      case '/':
        value += escaped;
        break;
      case 'n':
        value += '\n';
        break;
      case 'r':
        value += '\r';
        break;
      case 't':
        value += '\t';
        break;
      case 'b':
        value += '\b';
        break;
      case 'f':
        value += '\f';
        break;
      case 'v':
        value += '\v';
        break;
      case '0':
        value += '\0';
        break;
      case 'u': {
        const braced = source[i + 2] === '{';
        const match = braced
          ? /^\{([0-9A-Fa-f]{1,6})\}/.exec(source.slice(i + 2, i + 11))
          : /^[0-9A-Fa-f]{4}/.exec(source.slice(i + 2, i + 6));
        const hex = match ? (braced ? match[1] : match[0]) : undefined;
        const codePoint = hex === undefined ? Number.NaN : Number.parseInt(hex, 16);
        if (!(codePoint <= 0x10ffff)) {
          return {
            ok: false,
            position: i,
            message: 'expected \\uXXXX or \\u{X…} with a valid code point',
          };
        }
        value += String.fromCodePoint(codePoint);
        consumed = 2 + match![0].length;
        break;
      }
      case undefined:
        return { ok: false, position: start, message: `unterminated string (missing ${quote})` };
      default:
        return { ok: false, position: i, message: `unknown escape "\\${escaped}" in string` };
    }
    i += consumed;
    chunkStart = i;
  }
  return { ok: false, position: start, message: `unterminated string (missing ${quote})` };
}

function forbidden(segment: string, position: number): ScanResult<never> {
  return {
    ok: false,
    position,
    message: `"${segment}" is not allowed in a reference (it could reach an object's prototype)`,
  };
}

/**
 * Scans one reference (`root`, then `.field`, `.0`, `[0]`, `["key"]` segments) starting at `start`,
 * stopping at the first character that cannot continue it; no whitespace is allowed inside. The
 * caller decides what may follow. Never throws; a failure says where and what was expected.
 */
export function scanReference(
  source: string,
  start: number,
  syntax: ReferenceSyntax,
): ScanResult<{ reference: TemplateReference }> {
  if (!isRootStart(source.charCodeAt(start))) {
    return {
      ok: false,
      position: start,
      message: `expected "${TRIGGER_ROOT}" or a node id (a letter or "_" first)`,
    };
  }
  let i = start + 1;
  while (i < source.length && isRootPart(source.charCodeAt(i), syntax)) i++;
  const root = source.slice(start, i);
  if (FORBIDDEN_SEGMENTS.has(root)) return forbidden(root, start);
  const path: (string | number)[] = [];
  for (;;) {
    const char = source[i];
    if (char === '.') {
      const fieldStart = i + 1;
      let j = fieldStart;
      while (j < source.length && isFieldPart(source.charCodeAt(j), syntax)) j++;
      if (j === fieldStart) {
        return { ok: false, position: fieldStart, message: 'expected a field name after "."' };
      }
      const field = source.slice(fieldStart, j);
      if (FORBIDDEN_SEGMENTS.has(field)) return forbidden(field, fieldStart);
      path.push(isDigit(field.charCodeAt(0)) ? (indexOf(field) ?? field) : field);
      i = j;
    } else if (char === '[') {
      const inner = i + 1;
      const code = source.charCodeAt(inner);
      if (isDigit(code)) {
        let j = inner;
        while (j < source.length && isDigit(source.charCodeAt(j))) j++;
        const index = indexOf(source.slice(inner, j));
        if (index === undefined) {
          return {
            ok: false,
            position: inner,
            message: 'expected an index without leading zeros, at most 2^53 - 1',
          };
        }
        if (source[j] !== ']') {
          return { ok: false, position: j, message: 'expected "]" after the index' };
        }
        path.push(index);
        i = j + 1;
      } else if (source[inner] === '"' || source[inner] === "'") {
        const key = scanStringLiteral(source, inner);
        if (!key.ok) return key;
        if (FORBIDDEN_SEGMENTS.has(key.value)) return forbidden(key.value, inner);
        if (source[key.end] !== ']') {
          return { ok: false, position: key.end, message: 'expected "]" after the quoted key' };
        }
        path.push(key.value);
        i = key.end + 1;
      } else {
        return {
          ok: false,
          position: inner,
          message: 'expected an index (e.g. [0]) or a quoted key (e.g. ["name"]) after "["',
        };
      }
    } else {
      break;
    }
  }
  return { ok: true, reference: { root, path, text: source.slice(start, i) }, end: i };
}

export function freezeReference(reference: TemplateReference): TemplateReference {
  Object.freeze(reference.path);
  return Object.freeze(reference);
}

// -------------------------------------------------------------------------------------------------
// Lookup (shared with expression.ts)
// -------------------------------------------------------------------------------------------------

const MISSING: unique symbol = Symbol('missing');

function child(container: unknown, segment: string | number): unknown {
  if (container === null || typeof container !== 'object') return MISSING;
  if (Array.isArray(container)) {
    const index = typeof segment === 'number' ? segment : indexOf(segment);
    if (index === undefined) {
      return segment === 'length' ? container.length : MISSING;
    }
    if (index >= container.length) return MISSING;
    const item: unknown = container[index];
    return item === undefined ? MISSING : item;
  }
  const key = String(segment);
  if (!Object.hasOwn(container, key)) return MISSING;
  const found = (container as Record<string, unknown>)[key];
  return found === undefined ? MISSING : found;
}

const PLAIN_FIELD = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `root.a[0]["odd key"]`: how a reference path reads in messages. */
export function formatReferencePath(root: string, path: readonly (string | number)[]): string {
  let text = root;
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += PLAIN_FIELD.test(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** A value's type as a person would name it: `null`, `array`, `object`, `string`, `number`, … */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function segmentLabel(segment: string | number): string {
  return typeof segment === 'number' ? `index ${segment}` : `field ${JSON.stringify(segment)}`;
}

function missingReason(
  reference: TemplateReference,
  index: number,
  container: unknown,
  segment: string | number,
): string {
  const { root, path } = reference;
  let owner: string;
  if (root === TRIGGER_ROOT && index === 0) owner = "the trigger's output";
  else if (root !== TRIGGER_ROOT && index === 1) owner = `${root}'s output`;
  else owner = formatReferencePath(root, path.slice(0, index));
  const label = segmentLabel(segment);
  if (container === null) return `${owner} is null, so it has no ${label}`;
  if (typeof container !== 'object') {
    return `${owner} is a ${typeof container}, so it has no ${label}`;
  }
  if (Array.isArray(container)) {
    if (typeof segment === 'number') {
      const count = container.length;
      return `${owner} has no ${label} (it has ${count} item${count === 1 ? '' : 's'})`;
    }
    return `${owner} is an array, so it has no ${label}`;
  }
  if (typeof segment === 'number') return `${owner} is an object, so it has no ${label}`;
  return `${owner} has no ${label}`;
}

function missing(
  reference: TemplateReference,
  reason: string,
  pointer: string | undefined,
  segment: number | undefined,
): VigilError {
  return new VigilError('TEMPLATE_REFERENCE_MISSING', `{{${reference.text}}}: ${reason}`, {
    details: {
      reference: reference.text,
      root: reference.root,
      ...(segment === undefined ? {} : { segment: reference.path[segment] }),
      ...(pointer === undefined ? {} : { pointer }),
    },
  });
}

function nodeEntry(nodes: TemplateScope['nodes'], id: string): { output: unknown } | undefined {
  const entry =
    nodes instanceof Map ? nodes.get(id) : Object.hasOwn(nodes, id) ? nodes[id] : undefined;
  return entry !== null && typeof entry === 'object' ? entry : undefined;
}

/**
 * The value a reference names in `scope`, read through own properties only (arrays also answer to
 * indexes and `length`). Throws `VigilError` `TEMPLATE_REFERENCE_MISSING` when the root or any
 * segment does not exist — including a `null`/`undefined` value mid-path and an `undefined` final
 * value — with a message naming the missing segment; details `{ reference, root, segment?, pointer?
 * }`. A bare node reference (`{{check}}`) yields `{ output }`. The value is returned as is, not
 * copied: treat it as read-only.
 */
export function lookupReference(
  reference: TemplateReference,
  scope: TemplateScope,
  pointer?: string,
): unknown {
  const { root, path } = reference;
  let current: unknown;
  let start: number;
  if (root === TRIGGER_ROOT) {
    current = scope.trigger;
    start = 0;
    if (current === undefined) throw missing(reference, 'the trigger has no output', pointer, 0);
  } else {
    const entry = nodeEntry(scope.nodes, root);
    if (entry === undefined) {
      throw missing(
        reference,
        `there is no node "${root}" among the steps that ran before this one`,
        pointer,
        undefined,
      );
    }
    if (path.length === 0) return { output: entry.output };
    if (path[0] !== 'output') {
      const label = segmentLabel(path[0]!);
      const reason = `node "${root}" has no ${label} (its result is ${root}.output)`;
      throw missing(reference, reason, pointer, 0);
    }
    current = entry.output;
    start = 1;
    if (current === undefined) {
      throw missing(reference, `node "${root}" produced no output`, pointer, 0);
    }
  }
  for (let i = start; i < path.length; i++) {
    const segment = path[i]!;
    const next = child(current, segment);
    if (next === MISSING) {
      throw missing(reference, missingReason(reference, i, current, segment), pointer, i);
    }
    current = next;
  }
  return current;
}

// -------------------------------------------------------------------------------------------------
// Resolving
// -------------------------------------------------------------------------------------------------

/**
 * A value as text inside a larger string: strings as they are, `null` as `null`, numbers, booleans
 * and bigints via `String`, arrays and objects as JSON.
 */
export function valueToText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
