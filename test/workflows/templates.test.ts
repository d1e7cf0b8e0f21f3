import { describe, expect, it } from 'vitest';
import { lookupReference, type TemplateScope } from '../../src/workflows/references.ts';
import {
  collectReferences,
  parseTemplateString,
  resolveTemplates,
} from '../../src/workflows/templates.ts';
import { thrown } from '../support/errors.ts';

const scope: TemplateScope = {
  trigger: { body: { amount: 5, currency: 'EUR', tags: ['a', 'b'], note: null, ok: true } },
  nodes: {
    check: { output: { balance: 120, status: 'ok', user: null, profile: { name: 'Ada' } } },
    fetch: { output: { items: [{ id: 'i-1' }, { id: 'i-2' }], 'content-type': 'json' } },
    'odd-id': { output: 7 },
    empty: { output: undefined },
  },
};

describe('parseTemplateString', () => {
  it('splits a string into text and references, trimming spaces inside the braces', () => {
    expect(parseTemplateString('Pay {{ trigger.body.amount }} now')).toEqual([
      { kind: 'text', text: 'Pay ' },
      {
        kind: 'reference',
        reference: { root: 'trigger', path: ['body', 'amount'], text: 'trigger.body.amount' },
      },
      { kind: 'text', text: ' now' },
    ]);
  });

  it('reads dotted indexes and bracket indexes as the same numeric segments', () => {
    const [dotted] = parseTemplateString('{{ fetch.output.items.0.id }}');
    const [bracketed] = parseTemplateString('{{fetch.output.items[0].id}}');
    const path = ['output', 'items', 0, 'id'];
    expect(dotted).toMatchObject({ kind: 'reference', reference: { root: 'fetch', path } });
    expect(bracketed).toMatchObject({ kind: 'reference', reference: { root: 'fetch', path } });
  });

  it('accepts quoted keys with escapes and hyphenated ids and fields', () => {
    const [segment] = parseTemplateString(`{{odd-id.output["a b"]['it\\'s'].content-type}}`);
    expect(segment).toMatchObject({
      reference: { root: 'odd-id', path: ['output', 'a b', "it's", 'content-type'] },
    });
  });

  it('leaves a string without braces as one text segment and a stray "}}" as text', () => {
    expect(parseTemplateString('plain }} text')).toEqual([{ kind: 'text', text: 'plain }} text' }]);
  });

  it.each([
    ['unterminated', 'Hello {{trigger.body', 'unterminated'],
    ['empty', 'x {{ }} y', 'empty reference'],
    ['double dot', '{{a..b}}', 'expected a field name after "."'],
    ['non-index bracket', '{{a[x]}}', 'expected an index'],
    ['leading digit root', '{{1abc}}', 'node id'],
    ['space inside the path', '{{a b}}', 'expected "}}"'],
    ['unclosed bracket', '{{a[0}}', 'expected "]"'],
    ['unterminated quoted key', '{{a["b}}', 'unterminated string'],
  ])('refuses a malformed template (%s) with TEMPLATE_INVALID quoting it', (_, text, reason) => {
    const error = thrown(() => parseTemplateString(text));
    expect(error.code).toBe('TEMPLATE_INVALID');
    expect(error.message).toContain(JSON.stringify(text));
    expect(error.message).toContain(reason);
    expect(error.details).toMatchObject({ position: expect.any(Number) });
  });

  it.each([
    '{{trigger.__proto__.x}}',
    '{{trigger.constructor}}',
    '{{check.output.prototype}}',
    '{{trigger["__proto__"]}}',
    '{{__proto__.output}}',
  ])('refuses prototype-reaching segments at parse time: %s', (text) => {
    const error = thrown(() => parseTemplateString(text));
    expect(error.code).toBe('TEMPLATE_INVALID');
    expect(error.message).toContain('is not allowed');
  });

  it('returns frozen, cached segments so callers cannot corrupt the cache', () => {
    const first = parseTemplateString('{{trigger.body.amount}}');
    expect(parseTemplateString('{{trigger.body.amount}}')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const segment = first[0]!;
    expect(segment.kind === 'reference' && Object.isFrozen(segment.reference.path)).toBe(true);
  });
});

describe('resolveTemplates', () => {
  it('keeps the type of a value referenced by a string that is exactly one reference', () => {
    const resolved = resolveTemplates(
      {
        amount: '{{trigger.body.amount}}',
        spaced: '{{  trigger.body.amount  }}',
        ok: '{{trigger.body.ok}}',
        note: '{{trigger.body.note}}',
        tags: '{{trigger.body.tags}}',
        profile: '{{check.output.profile}}',
        whole: '{{odd-id.output}}',
      },
      scope,
    );
    expect(resolved).toEqual({
      amount: 5,
      spaced: 5,
      ok: true,
      note: null,
      tags: ['a', 'b'],
      profile: { name: 'Ada' },
      whole: 7,
    });
  });

  it('interpolates mixed strings: strings as-is, scalars via String, null, objects as JSON', () => {
    const resolved = resolveTemplates<string>(
      '{{trigger.body.amount}} {{trigger.body.currency}} ok={{trigger.body.ok}} ' +
        'note={{trigger.body.note}} tags={{trigger.body.tags}} p={{check.output.profile}}',
      scope,
    );
    expect(resolved).toBe('5 EUR ok=true note=null tags=["a","b"] p={"name":"Ada"}');
  });

  it('interpolates when there is text outside the braces, even only whitespace', () => {
    expect(resolveTemplates(' {{trigger.body.amount}}', scope)).toBe(' 5');
    expect(resolveTemplates('{{trigger.body.amount}}{{trigger.body.amount}}', scope)).toBe('55');
  });

  it('walks nested objects and arrays, leaving keys and non-string leaves untouched', () => {
    const config = {
      '{{trigger.body.amount}}': 'key stays',
      headers: [
        '{{check.output.status}}',
        42,
        false,
        null,
        { deep: ['id {{fetch.output.items[1].id}}'] },
      ],
      limit: 10,
    };
    expect(resolveTemplates(config, scope)).toEqual({
      '{{trigger.body.amount}}': 'key stays',
      headers: ['ok', 42, false, null, { deep: ['id i-2'] }],
      limit: 10,
    });
  });

  it('resolves index paths written either as .0 or [0]', () => {
    expect(
      resolveTemplates(['{{fetch.output.items.0.id}}', '{{ fetch.output.items[1]["id"] }}'], scope),
    ).toEqual(['i-1', 'i-2']);
  });

  it('reads array length as an own property', () => {
    expect(resolveTemplates('{{fetch.output.items.length}}', scope)).toBe(2);
  });

  it('accepts the nodes of the scope as a Map', () => {
    const mapScope: TemplateScope = {
      trigger: {},
      nodes: new Map([['check', { output: { balance: 3 } }]]),
    };
    expect(resolveTemplates('{{check.output.balance}}', mapScope)).toBe(3);
  });

  it('returns a new value and never mutates the input config', () => {
    const config = { a: ['{{trigger.body.amount}}'], b: { c: 'x {{check.output.status}}' } };
    const snapshot = structuredClone(config);
    const resolved = resolveTemplates<typeof config>(config, scope);
    expect(config).toEqual(snapshot);
    expect(resolved).not.toBe(config);
    expect(resolved.a).not.toBe(config.a);
    expect(resolved.b).not.toBe(config.b);
    expect(Object.isFrozen(config)).toBe(false);
  });

  it('copies a "__proto__" key as an own property instead of changing the prototype', () => {
    const config = JSON.parse('{"__proto__": {"polluted": "{{trigger.body.amount}}"}}');
    const resolved = resolveTemplates<Record<string, unknown>>(config, scope);
    expect(Object.getPrototypeOf(resolved)).toBe(Object.prototype);
    expect(Object.hasOwn(resolved, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not read inherited properties of scope values', () => {
    const inherited = Object.create({ secret: 'from prototype' }) as object;
    const error = thrown(() =>
      resolveTemplates('{{trigger.secret}}', { trigger: inherited, nodes: {} }),
    );
    expect(error.code).toBe('TEMPLATE_REFERENCE_MISSING');
    const noProps = thrown(() => resolveTemplates('{{trigger.body.toString}}', scope));
    expect(noProps.code).toBe('TEMPLATE_REFERENCE_MISSING');
  });

  it('reports a missing node root with TEMPLATE_REFERENCE_MISSING and the pointer', () => {
    const error = thrown(() =>
      resolveTemplates({ fields: { total: '{{ghost.output.x}}' } }, scope),
    );
    expect(error.code).toBe('TEMPLATE_REFERENCE_MISSING');
    expect(error.message).toBe(
      '{{ghost.output.x}}: there is no node "ghost" among the steps that ran before this one',
    );
    expect(error.details).toMatchObject({ reference: 'ghost.output.x', pointer: '/fields/total' });
  });

  it('names the missing field and its owner when a path segment does not exist', () => {
    const error = thrown(() => resolveTemplates({ a: ['{{check.output.balanse}}'] }, scope));
    expect(error.code).toBe('TEMPLATE_REFERENCE_MISSING');
    expect(error.message).toBe('{{check.output.balanse}}: check\'s output has no field "balanse"');
    expect(error.details).toMatchObject({
      reference: 'check.output.balanse',
      pointer: '/a/0',
      segment: 'balanse',
    });
  });

  it('names the missing segment deeper in the path, in interpolated strings too', () => {
    const error = thrown(() => resolveTemplates('Hi {{trigger.body.payer.name}}', scope));
    expect(error.message).toBe('{{trigger.body.payer.name}}: trigger.body has no field "payer"');
    expect(error.details).toMatchObject({ pointer: '', segment: 'payer' });
  });

  it('treats null mid-path as missing and says so', () => {
    const error = thrown(() => resolveTemplates('{{check.output.user.name}}', scope));
    expect(error.code).toBe('TEMPLATE_REFERENCE_MISSING');
    expect(error.message).toBe(
      '{{check.output.user.name}}: check.output.user is null, so it has no field "name"',
    );
  });

  it('reports an out-of-range index with the array length', () => {
    const error = thrown(() => resolveTemplates('{{fetch.output.items[5].id}}', scope));
    expect(error.message).toBe(
      '{{fetch.output.items[5].id}}: fetch.output.items has no index 5 (it has 2 items)',
    );
  });

  it('reports a field read on a primitive, naming its type', () => {
    const error = thrown(() => resolveTemplates('{{check.output.balance.cents}}', scope));
    expect(error.message).toBe(
      '{{check.output.balance.cents}}: ' +
        'check.output.balance is a number, so it has no field "cents"',
    );
  });

  it('reports a node path that does not go through output, and a node without output', () => {
    expect(thrown(() => resolveTemplates('{{check.balance}}', scope)).message).toBe(
      '{{check.balance}}: node "check" has no field "balance" (its result is check.output)',
    );
    expect(thrown(() => resolveTemplates('{{empty.output}}', scope)).message).toBe(
      '{{empty.output}}: node "empty" produced no output',
    );
  });

  it('reports a trigger without output as missing', () => {
    const error = thrown(() => resolveTemplates('{{trigger}}', { trigger: undefined, nodes: {} }));
    expect(error.code).toBe('TEMPLATE_REFERENCE_MISSING');
  });

  it('throws TEMPLATE_INVALID with the pointer for a malformed template at run time', () => {
    const error = thrown(() => resolveTemplates({ url: { 'a/b': '{{a..b}}' } }, scope));
    expect(error.code).toBe('TEMPLATE_INVALID');
    expect(error.message).toContain('"{{a..b}}"');
    expect(error.details).toMatchObject({ pointer: '/url/a~1b' });
  });

  it('does not re-resolve braces that come from a resolved value', () => {
    const braces: TemplateScope = { trigger: { text: '{{trigger.secret}}' }, nodes: {} };
    expect(resolveTemplates('say {{trigger.text}}', braces)).toBe('say {{trigger.secret}}');
  });

  it('resolves many configs quickly thanks to the parse cache', () => {
    const config = {
      url: 'https://api/{{trigger.body.currency}}/{{fetch.output.items[0].id}}',
      body: { amount: '{{trigger.body.amount}}', status: '{{check.output.status}}' },
    };
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) resolveTemplates(config, scope);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('lookupReference', () => {
  it('yields { output } for a bare node reference', () => {
    expect(lookupReference({ root: 'odd-id', path: [], text: 'odd-id' }, scope)).toEqual({
      output: 7,
    });
  });
});

describe('collectReferences', () => {
  it('lists every reference with the JSON pointer of its string, in document order', () => {
    const { sites, errors } = collectReferences({
      fields: { total: '{{trigger.body.amount}}', 'a~b': 'x {{check.output.balance}}' },
      headers: ['{{fetch.output.items[0].id}} and {{ odd-id.output }}'],
      plain: 'no templates',
      count: 3,
    });
    expect(errors).toEqual([]);
    expect(sites.map((site) => [site.pointer, site.reference.root, site.reference.path])).toEqual([
      ['/fields/total', 'trigger', ['body', 'amount']],
      ['/fields/a~0b', 'check', ['output', 'balance']],
      ['/headers/0', 'fetch', ['output', 'items', 0, 'id']],
      ['/headers/0', 'odd-id', ['output']],
    ]);
  });

  it('collects every parse problem with its pointer instead of throwing', () => {
    const { sites, errors } = collectReferences({
      a: '{{ok.output}}',
      b: ['fine', '{{a..b}}'],
      c: { d: 'Hello {{trigger.body' },
      e: '{{ }}',
      f: '{{trigger.__proto__}}',
    });
    expect(sites.map((site) => site.pointer)).toEqual(['/a']);
    expect(errors.map((error) => error.pointer)).toEqual(['/b/1', '/c/d', '/e', '/f']);
    expect(errors[0]!.message).toContain('"{{a..b}}"');
    expect(errors[1]!.message).toContain('unterminated');
    expect(errors[2]!.message).toContain('empty reference');
    expect(errors[3]!.message).toContain('"__proto__" is not allowed');
  });

  it('reports a whole-config template string at the root pointer ""', () => {
    expect(collectReferences('{{trigger}}').sites).toEqual([
      { pointer: '', reference: { root: 'trigger', path: [], text: 'trigger' } },
    ]);
  });

  it('never throws, even on a cyclic value', () => {
    const cyclic: Record<string, unknown> = { a: '{{trigger.x}}' };
    cyclic.self = cyclic;
    const { sites } = collectReferences(cyclic);
    expect(sites).toHaveLength(1);
  });
});
