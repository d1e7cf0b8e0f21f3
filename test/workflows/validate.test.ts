import { describe, expect, it } from 'vitest';
import { validateDefinition } from '../../src/workflows/validate.ts';
import { definition } from '../support/vigil.ts';

function problems(input: unknown) {
  const result = validateDefinition(input);
  return result.ok ? [] : result.problems;
}

describe('validateDefinition', () => {
  it('accepts a webhook -> condition -> two branches definition', () => {
    const result = validateDefinition(
      definition(
        [
          { id: 'hook', type: 'webhook' },
          { id: 'big', type: 'condition', config: { expression: 'trigger.body.amount > 100' } },
          { id: 'yes', type: 'transform', config: { fields: { a: '{{big.output.result}}' } } },
          { id: 'no', type: 'transform', config: { fields: { b: '{{trigger.body.amount}}' } } },
        ],
        [
          ['hook', 'big'],
          ['big', 'yes', 'true'],
          ['big', 'no', 'false'],
        ],
      ),
    );
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('returns every problem at once, each with its node and field', () => {
    const found = problems(
      definition(
        [
          { id: 'a', type: 'transform', config: { fields: { x: '{{ghost.output.y}}' } } },
          { id: 'b', type: 'teleport' },
          { id: 'c', type: 'http-request', config: { url: 'not a url', timeoutMs: -1 } },
          { id: 'd', type: 'transform', config: { fields: { y: '{{e.output.z}}' } } },
          { id: 'e', type: 'transform', config: { fields: { z: 1 } } },
        ],
        [
          ['a', 'c'],
          ['d', 'e'],
          ['e', 'd'],
        ],
      ),
    );
    const codes = found.map((p) => [p.code, p.nodeId ?? null]);
    expect(codes).toEqual(
      expect.arrayContaining([
        ['TRIGGER_MISSING', null],
        ['NODE_TYPE_UNKNOWN', 'b'],
        ['CONFIG_INVALID', 'c'],
        ['CYCLE', 'd'],
        ['CYCLE', 'e'],
      ]),
    );
    const config = found.filter((p) => p.code === 'CONFIG_INVALID' && p.nodeId === 'c');
    expect(config.map((p) => p.field).sort()).toEqual(['/timeoutMs', '/url']);
  });

  it('finds references to unknown nodes and to nodes that do not run before', () => {
    const found = problems(
      definition(
        [
          { id: 'hook', type: 'manual' },
          { id: 'one', type: 'transform', config: { fields: { v: '{{two.output.v}}' } } },
          { id: 'two', type: 'transform', config: { fields: { v: 'x {{nobody.output}}' } } },
          { id: 'three', type: 'condition', config: { expression: '{{one.value}} == 1' } },
          { id: 'four', type: 'transform', config: { fields: {} } },
        ],
        [
          ['hook', 'one'],
          ['one', 'two'],
          ['two', 'three'],
          ['three', 'four'],
        ],
      ),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          code: 'REFERENCE_NOT_UPSTREAM',
          nodeId: 'one',
          field: '/fields/v',
        }),
        expect.objectContaining({
          code: 'REFERENCE_UNKNOWN_NODE',
          nodeId: 'two',
          field: '/fields/v',
        }),
        expect.objectContaining({
          code: 'REFERENCE_INVALID',
          nodeId: 'three',
          field: '/expression',
        }),
        expect.objectContaining({ code: 'EDGE_HANDLE_INVALID', nodeId: 'three' }),
      ]),
    );
  });

  it('flags unreachable nodes, a second trigger, a reserved id and a broken template', () => {
    const found = problems(
      definition(
        [
          { id: 'hook', type: 'webhook' },
          { id: 'again', type: 'manual' },
          { id: 'trigger', type: 'transform', config: { fields: {} } },
          { id: 'lonely', type: 'transform', config: { fields: { a: '{{trigger.body' } } },
        ],
        [['hook', 'trigger']],
      ),
    );
    expect(found.map((p) => [p.code, p.nodeId])).toEqual(
      expect.arrayContaining([
        ['TRIGGER_MULTIPLE', 'again'],
        ['NODE_ID_RESERVED', 'trigger'],
        ['NODE_UNREACHABLE', 'lonely'],
        ['TEMPLATE_INVALID', 'lonely'],
      ]),
    );
  });

  it('accepts a template where the schema wants a number, leaving it to run time', () => {
    const result = validateDefinition(
      definition(
        [
          { id: 'hook', type: 'webhook' },
          {
            id: 'call',
            type: 'http-request',
            config: { url: '{{trigger.body.url}}', timeoutMs: '{{trigger.body.timeout}}' },
          },
        ],
        [['hook', 'call']],
      ),
    );
    expect(result.problems).toEqual([]);
  });

  it('reports the shape of a definition that is not { nodes, edges }', () => {
    const found = problems({ nodes: [{ id: '1bad', type: 'manual' }], edges: 'none' });
    expect(found.map((p) => p.code)).toEqual(['DEFINITION_SHAPE', 'DEFINITION_SHAPE']);
    expect(found.map((p) => p.message).join(' ')).toMatch(/nodes\.0\.id/);
  });
});
