import type { z } from 'zod';
import { isVigilError } from '../errors.ts';
import { getNodeDefinition } from '../nodes/catalog.ts';
import { definitionSchema, type WorkflowDefinition } from './definition.ts';
import { expressionReferences, parseExpression } from './expression.ts';
import { adjacency, descendants, nodesInCycles } from './graph.ts';
import { type TemplateReference, TRIGGER_ROOT } from './references.ts';
import { collectReferences } from './templates.ts';

/**
 * One problem of a definition: a stable code, where it is (node id and field, as a JSON pointer into the
 * node's config when it is about config) and a sentence saying what to change.
 */
export interface ValidationProblem {
  code: string;
  message: string;
  nodeId?: string;
  field?: string;
}

export type ValidationResult =
  | { ok: true; definition: WorkflowDefinition; problems: [] }
  | { ok: false; problems: ValidationProblem[] };

/**
 * Checks a definition completely and returns every problem at once: shape, trigger, node types, edges,
 * cycles, reachability, each node's config against its schema, and every template reference.
 */
export function validateDefinition(input: unknown): ValidationResult {
  const shape = definitionSchema.safeParse(input);
  if (!shape.success) {
    return {
      ok: false,
      problems: shape.error.issues.map((issue) => ({
        code: 'DEFINITION_SHAPE',
        message: `${pathText(issue.path)}: ${issue.message}`,
        ...nodeIdAt(input, issue.path),
      })),
    };
  }
  const definition = shape.data;
  const problems: ValidationProblem[] = [];
  const ids = new Set<string>();
  const triggers: string[] = [];

  for (const node of definition.nodes) {
    if (ids.has(node.id)) {
      problems.push({
        code: 'NODE_ID_DUPLICATE',
        nodeId: node.id,
        message: `Two nodes have the id "${node.id}"`,
      });
    }
    ids.add(node.id);
    const type = getNodeDefinition(node.type);
    if (!type) {
      problems.push({
        code: 'NODE_TYPE_UNKNOWN',
        nodeId: node.id,
        field: 'type',
        message: `Unknown node type "${node.type}"`,
      });
      continue;
    }
    if (type.kind === 'trigger') triggers.push(node.id);
    else if (node.id === TRIGGER_ROOT) {
      problems.push({
        code: 'NODE_ID_RESERVED',
        nodeId: node.id,
        field: 'id',
        message: '"trigger" names the trigger in templates; give this step another id',
      });
    }
  }
  if (triggers.length === 0) {
    problems.push({
      code: 'TRIGGER_MISSING',
      message: 'A workflow needs exactly one trigger node (manual or webhook)',
    });
  } else if (triggers.length > 1) {
    for (const id of triggers.slice(1)) {
      problems.push({
        code: 'TRIGGER_MULTIPLE',
        nodeId: id,
        message: `A workflow has exactly one trigger; "${triggers[0]}" is already one`,
      });
    }
  }

  const byId = new Map(definition.nodes.map((node) => [node.id, node]));
  definition.edges.forEach((edge, index) => {
    for (const end of ['source', 'target'] as const) {
      if (!byId.has(edge[end])) {
        problems.push({
          code: 'EDGE_UNKNOWN_NODE',
          field: `edges/${index}/${end}`,
          message: `Edge ${index} has ${end} "${edge[end]}", which is not a node`,
        });
      }
    }
    const target = byId.get(edge.target);
    if (target && getNodeDefinition(target.type)?.kind === 'trigger') {
      problems.push({
        code: 'EDGE_INTO_TRIGGER',
        nodeId: edge.target,
        field: `edges/${index}/target`,
        message: 'Nothing may lead into the trigger: it is where a run starts',
      });
    }
    const source = byId.get(edge.source);
    const branches = source ? getNodeDefinition(source.type)?.branches : undefined;
    if (source && branches && !branches.includes(edge.sourceHandle ?? '')) {
      problems.push({
        code: 'EDGE_HANDLE_INVALID',
        nodeId: edge.source,
        field: `edges/${index}/sourceHandle`,
        message: `An edge leaving "${edge.source}" must have sourceHandle ${branches
          .map((b) => `"${b}"`)
          .join(' or ')}`,
      });
    }
  });

  const knownEdges = definition.edges.filter((e) => byId.has(e.source) && byId.has(e.target));
  const { outgoing } = adjacency({ ...definition, edges: knownEdges });
  const cyclic = nodesInCycles([...byId.keys()], outgoing);
  for (const id of cyclic) {
    problems.push({
      code: 'CYCLE',
      nodeId: id,
      message: `"${id}" is on a cycle (or only reachable through one); workflows are acyclic`,
    });
  }
  const trigger = triggers[0];
  if (trigger !== undefined) {
    const reachable = descendants(trigger, outgoing);
    for (const id of byId.keys()) {
      if (id !== trigger && !reachable.has(id) && !cyclic.includes(id) && !triggers.includes(id)) {
        problems.push({
          code: 'NODE_UNREACHABLE',
          nodeId: id,
          message: `"${id}" cannot be reached from the trigger; connect it or remove it`,
        });
      }
    }
  }

  // Which nodes run before which: a reference must point upstream, or its value may not exist yet.
  const upstream = new Map<string, Set<string>>();
  if (cyclic.length === 0) {
    for (const id of byId.keys()) {
      for (const after of descendants(id, outgoing)) {
        const set = upstream.get(after) ?? new Set<string>();
        set.add(id);
        upstream.set(after, set);
      }
    }
  }
  for (const node of definition.nodes) {
    const type = getNodeDefinition(node.type);
    if (!type) continue;
    problems.push(...checkConfig(node.id, node.data.config, type.configSchema, type.rawFields));
    if (cyclic.length > 0) continue;
    for (const site of referenceSites(node.id, node.data.config, type.rawFields, problems)) {
      const problem = checkReference(site.reference, node.id, trigger, byId, upstream);
      if (problem) problems.push({ ...problem, nodeId: node.id, field: site.pointer });
    }
  }

  return problems.length === 0 ? { ok: true, definition, problems: [] } : { ok: false, problems };
}

/**
 * Validates config against the node's schema. A value that is a template (or sits under one) is judged
 * at run time, after resolution: `"{{trigger.body.amount}}"` is fine where a number is expected.
 */
function checkConfig(
  nodeId: string,
  config: unknown,
  schema: z.ZodType,
  rawFields: readonly string[] | undefined,
): ValidationProblem[] {
  const parsed = schema.safeParse(config);
  if (parsed.success) return [];
  const problems: ValidationProblem[] = [];
  for (const issue of parsed.error.issues) {
    if (isUnderTemplate(config, issue.path, rawFields)) continue;
    problems.push({
      code: 'CONFIG_INVALID',
      nodeId,
      field: pointerOf(issue.path),
      message: `${issue.path.length > 0 ? `${pathText(issue.path)}: ` : ''}${issue.message}`,
    });
  }
  return problems;
}

function isUnderTemplate(
  config: unknown,
  path: readonly PropertyKey[],
  rawFields: readonly string[] | undefined,
): boolean {
  if (path.length > 0 && rawFields?.includes(String(path[0]))) return false;
  let value: unknown = config;
  for (const key of path) {
    if (typeof value === 'string') break;
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<PropertyKey, unknown>)[key as string];
  }
  return typeof value === 'string' && value.includes('{{');
}

interface Site {
  pointer: string;
  reference: TemplateReference;
}

/** References in templated fields, and in the condition's expression (a raw field). */
function referenceSites(
  nodeId: string,
  config: unknown,
  rawFields: readonly string[] | undefined,
  problems: ValidationProblem[],
): Site[] {
  const templated =
    config && typeof config === 'object' && !Array.isArray(config) && rawFields
      ? Object.fromEntries(Object.entries(config).filter(([key]) => !rawFields.includes(key)))
      : config;
  const { sites, errors } = collectReferences(templated);
  for (const error of errors) {
    problems.push({
      code: 'TEMPLATE_INVALID',
      nodeId,
      field: error.pointer,
      message: error.message,
    });
  }
  const found: Site[] = [...sites];
  const expression = (config as { expression?: unknown } | null)?.expression;
  if (rawFields?.includes('expression') && typeof expression === 'string') {
    try {
      for (const reference of expressionReferences(parseExpression(expression))) {
        found.push({ pointer: '/expression', reference });
      }
    } catch (error) {
      problems.push({
        code: isVigilError(error) ? error.code : 'EXPRESSION_INVALID',
        nodeId,
        field: '/expression',
        message: (error as Error).message,
      });
    }
  }
  return found;
}

function checkReference(
  reference: TemplateReference,
  nodeId: string,
  trigger: string | undefined,
  byId: ReadonlyMap<string, unknown>,
  upstream: ReadonlyMap<string, ReadonlySet<string>>,
): Omit<ValidationProblem, 'nodeId' | 'field'> | undefined {
  const text = `{{${reference.text}}}`;
  if (reference.root === TRIGGER_ROOT || reference.root === trigger) return undefined;
  if (!byId.has(reference.root)) {
    return {
      code: 'REFERENCE_UNKNOWN_NODE',
      message: `${text} refers to "${reference.root}", which is not a node of this workflow`,
    };
  }
  if (reference.root === nodeId || !upstream.get(nodeId)?.has(reference.root)) {
    return {
      code: 'REFERENCE_NOT_UPSTREAM',
      message: `${text} refers to "${reference.root}", which does not run before "${nodeId}"`,
    };
  }
  if (reference.path.length > 0 && reference.path[0] !== 'output') {
    return {
      code: 'REFERENCE_INVALID',
      message: `${text}: a step's value is under "output", as in {{${reference.root}.output}}`,
    };
  }
  return undefined;
}

function pointerOf(path: readonly PropertyKey[]): string {
  return path.map((key) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function pathText(path: readonly PropertyKey[]): string {
  return path.length === 0 ? 'definition' : path.map(String).join('.');
}

function nodeIdAt(input: unknown, path: readonly PropertyKey[]): { nodeId?: string } {
  if (path[0] !== 'nodes' || typeof path[1] !== 'number') return {};
  const node = (input as { nodes?: { id?: unknown }[] })?.nodes?.[path[1]];
  return typeof node?.id === 'string' ? { nodeId: node.id } : {};
}
