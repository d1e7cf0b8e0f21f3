/**
 * Templates in step configs: `{{trigger.body.amount}}`, `{{check.output.items[0].id}}`.
 *
 * A step's config is any JSON value; its strings may reference the trigger's output and the outputs
 * of earlier steps. This module parses those references (for static validation when a workflow is
 * saved) and resolves them against a run's scope (on every step of every run, so parsing is
 * cached).
 *
 * The reference syntax and its lookup, shared with `expression.ts`, live in `references.ts`.
 *
 * No code is ever evaluated: references are data paths, nothing more.
 */
import { VigilError } from '../errors.ts';
import {
  freezeReference,
  lookupReference,
  scanReference,
  type TemplateReference,
  type TemplateScope,
  valueToText,
} from './references.ts';

/** Where a reference sits in a config: `pointer` is the RFC 6901 JSON pointer of its string. */
export interface ReferenceSite {
  pointer: string;
  reference: TemplateReference;
}

/** A parse problem found by `collectReferences`, at the JSON pointer of the offending string. */
export interface TemplateProblem {
  pointer: string;
  message: string;
}

/** A template string cut into literal text and references, in order. */
export type TemplateSegment =
  | { kind: 'text'; text: string }
  | { kind: 'reference'; reference: TemplateReference };

/** Parse cache bound: entries beyond this evict the oldest (insertion order). */
const CACHE_LIMIT = 10_000;
/** Strings longer than this are parsed each time, not cached, to bound the cache's memory. */
const CACHE_MAX_STRING = 4_096;
/** How much of a bad template an error message quotes. */
const QUOTE_LIMIT = 200;

type ParseOutcome =
  | { ok: true; segments: readonly TemplateSegment[] }
  | { ok: false; position: number; message: string };

const templateCache = new Map<string, ParseOutcome>();

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

function parseUncached(value: string): ParseOutcome {
  const segments: TemplateSegment[] = [];
  let textStart = 0;
  let open = value.indexOf('{{');
  while (open !== -1) {
    if (open > textStart) segments.push({ kind: 'text', text: value.slice(textStart, open) });
    let i = open + 2;
    while (i < value.length && isSpace(value.charCodeAt(i))) i++;
    if (i >= value.length) {
      return { ok: false, position: open, message: 'unterminated "{{" (no closing "}}")' };
    }
    if (value.startsWith('}}', i)) {
      return { ok: false, position: open, message: 'empty reference "{{ }}"' };
    }
    const scanned = scanReference(value, i, 'template');
    if (!scanned.ok) return scanned;
    i = scanned.end;
    while (i < value.length && isSpace(value.charCodeAt(i))) i++;
    if (!value.startsWith('}}', i)) {
      return i >= value.length
        ? { ok: false, position: open, message: 'unterminated "{{" (no closing "}}")' }
        : { ok: false, position: i, message: 'expected "}}" to end the reference' };
    }
    segments.push({ kind: 'reference', reference: freezeReference(scanned.reference) });
    textStart = i + 2;
    open = value.indexOf('{{', textStart);
  }
  if (textStart < value.length) segments.push({ kind: 'text', text: value.slice(textStart) });
  for (const segment of segments) Object.freeze(segment);
  return { ok: true, segments: Object.freeze(segments) };
}

function parseCached(value: string): ParseOutcome {
  const cached = templateCache.get(value);
  if (cached !== undefined) return cached;
  const outcome = parseUncached(value);
  if (value.length <= CACHE_MAX_STRING) {
    if (templateCache.size >= CACHE_LIMIT) {
      const oldest = templateCache.keys().next();
      if (!oldest.done) templateCache.delete(oldest.value);
    }
    templateCache.set(value, outcome);
  }
  return outcome;
}

function quote(template: string): string {
  const shown = template.length > QUOTE_LIMIT ? `${template.slice(0, QUOTE_LIMIT)}…` : template;
  return JSON.stringify(shown);
}

function invalidMessage(template: string, outcome: { position: number; message: string }): string {
  const where = `(at position ${outcome.position})`;
  return `Invalid template ${quote(template)}: ${outcome.message} ${where}`;
}

function invalidTemplate(
  template: string,
  outcome: { position: number; message: string },
  pointer: string | undefined,
): VigilError {
  return new VigilError('TEMPLATE_INVALID', invalidMessage(template, outcome), {
    details: {
      template: template.length > QUOTE_LIMIT ? `${template.slice(0, QUOTE_LIMIT)}…` : template,
      position: outcome.position,
      ...(pointer === undefined ? {} : { pointer }),
    },
  });
}

/**
 * Parses one string into text and reference segments (a string without `{{` is one text segment, or
 * none when empty). Throws `VigilError` `TEMPLATE_INVALID` (message quotes the template and gives
 * the 0-based position) for an unterminated `{{`, an empty `{{ }}`, a malformed path or a forbidden
 * segment. Results are cached and frozen.
 */
export function parseTemplateString(value: string): readonly TemplateSegment[] {
  const outcome = parseCached(value);
  if (!outcome.ok) throw invalidTemplate(value, outcome, undefined);
  return outcome.segments;
}

/** True when `value` holds no templates at all (the common case, skipped without parsing). */
export function isPlainText(value: string): boolean {
  return !value.includes('{{');
}

// -------------------------------------------------------------------------------------------------
// Walking configs
// -------------------------------------------------------------------------------------------------

function escapePointerToken(token: string): string {
  return token.includes('~') || token.includes('/')
    ? token.replaceAll('~', '~0').replaceAll('/', '~1')
    : token;
}

/** RFC 6901 pointer for a walk path; `''` is the whole document. */
function toPointer(tokens: readonly (string | number)[]): string {
  let pointer = '';
  for (const token of tokens) {
    pointer += `/${typeof token === 'number' ? token : escapePointerToken(token)}`;
  }
  return pointer;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Every reference in a config and every parse problem, for validating a workflow before it is
 * saved. Walks arrays and plain objects (keys are not templates); never throws, not even on a
 * cyclic value. Sites and problems come in document order, each with the JSON pointer of its
 * string.
 */
export function collectReferences(config: unknown): {
  sites: ReferenceSite[];
  errors: TemplateProblem[];
} {
  const sites: ReferenceSite[] = [];
  const errors: TemplateProblem[] = [];
  const tokens: (string | number)[] = [];
  const ancestors = new Set<object>();
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      if (isPlainText(value)) return;
      const outcome = parseCached(value);
      const pointer = toPointer(tokens);
      if (!outcome.ok) {
        errors.push({ pointer, message: invalidMessage(value, outcome) });
        return;
      }
      for (const segment of outcome.segments) {
        if (segment.kind === 'reference') sites.push({ pointer, reference: segment.reference });
      }
      return;
    }
    if (value === null || typeof value !== 'object' || ancestors.has(value)) return;
    if (Array.isArray(value)) {
      ancestors.add(value);
      for (let i = 0; i < value.length; i++) {
        tokens.push(i);
        visit(value[i]);
        tokens.pop();
      }
      ancestors.delete(value);
    } else if (isPlainObject(value)) {
      ancestors.add(value);
      for (const key of Object.keys(value)) {
        tokens.push(key);
        visit(value[key]);
        tokens.pop();
      }
      ancestors.delete(value);
    }
  };
  visit(config);
  return { sites, errors };
}

function resolveString(
  value: string,
  scope: TemplateScope,
  tokens: readonly (string | number)[],
): unknown {
  if (isPlainText(value)) return value;
  const outcome = parseCached(value);
  if (!outcome.ok) throw invalidTemplate(value, outcome, toPointer(tokens));
  const { segments } = outcome;
  try {
    if (segments.length === 1 && segments[0]!.kind === 'reference') {
      return lookupReference(segments[0]!.reference, scope);
    }
    let text = '';
    for (const segment of segments) {
      text +=
        segment.kind === 'text'
          ? segment.text
          : valueToText(lookupReference(segment.reference, scope));
    }
    return text;
  } catch (error) {
    // The pointer is only computed on failure: resolving is on the hot path of every step.
    if (error instanceof VigilError && error.details !== undefined) {
      error.details.pointer = toPointer(tokens);
    }
    throw error;
  }
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/**
 * `config` with every template string resolved against `scope`, as a new value (the input is never
 * mutated; arrays and plain objects are copied, other leaves pass through). A string that is
 * exactly one `{{reference}}` becomes the referenced value with its type; any other string with
 * references is interpolated with `valueToText`. Values taken from the scope are not copied. Throws
 * `VigilError` `TEMPLATE_INVALID` or `TEMPLATE_REFERENCE_MISSING`, details carrying `pointer`.
 */
export function resolveTemplates<T = unknown>(config: unknown, scope: TemplateScope): T {
  const tokens: (string | number)[] = [];
  const visit = (value: unknown): unknown => {
    if (typeof value === 'string') return resolveString(value, scope, tokens);
    if (Array.isArray(value)) {
      const copy = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) {
        tokens.push(i);
        copy[i] = visit(value[i]);
        tokens.pop();
      }
      return copy;
    }
    if (isPlainObject(value)) {
      const copy: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        tokens.push(key);
        setOwn(copy, key, visit(value[key]));
        tokens.pop();
      }
      return copy;
    }
    return value;
  };
  return visit(config) as T;
}
