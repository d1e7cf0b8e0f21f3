import { getNodeDefinition } from '../nodes/catalog.ts';
import type { AnyNodeDefinition } from '../nodes/types.ts';
import type { RetryPolicy, WorkflowDefinition, WorkflowEdge } from './definition.ts';

/** A node ready for the engine: its catalog entry, config and effective retry and timeout. */
export interface CompiledNode {
  id: string;
  type: string;
  node: AnyNodeDefinition;
  config: unknown;
  retry: RetryPolicy;
  timeoutMs: number;
}

export interface CompiledWorkflow {
  trigger: CompiledNode;
  nodes: ReadonlyMap<string, CompiledNode>;
  outgoing: ReadonlyMap<string, readonly WorkflowEdge[]>;
  incoming: ReadonlyMap<string, readonly WorkflowEdge[]>;
  /** Every step is pure (see NodeDefinition.pure): the run may execute before it is recorded. */
  pure: boolean;
}

export const DEFAULT_STEP_TIMEOUT_MS = 30_000;

/**
 * Turns a definition that passed validation into the structure the engine walks. Compiled once per
 * workflow version and cached: versions never change.
 */
export function compileWorkflow(definition: WorkflowDefinition): CompiledWorkflow {
  const nodes = new Map<string, CompiledNode>();
  let trigger: CompiledNode | undefined;
  for (const raw of definition.nodes) {
    const node = getNodeDefinition(raw.type);
    if (!node) throw new Error(`compileWorkflow: unknown node type ${raw.type} (validate first)`);
    const compiled: CompiledNode = {
      id: raw.id,
      type: raw.type,
      node,
      config: raw.data.config ?? {},
      retry: raw.data.retry ?? {
        maxAttempts: node.defaults?.maxAttempts ?? 1,
        initialDelayMs: 200,
        maxDelayMs: 10_000,
      },
      timeoutMs: raw.data.timeoutMs ?? node.defaults?.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
    };
    nodes.set(raw.id, compiled);
    if (node.kind === 'trigger') trigger = compiled;
  }
  if (!trigger) throw new Error('compileWorkflow: no trigger (validate first)');
  const { outgoing, incoming } = adjacency(definition);
  const pure = [...nodes.values()].every((n) => n.node.kind === 'trigger' || n.node.pure === true);
  return { trigger, nodes, outgoing, incoming, pure };
}

export function adjacency(definition: WorkflowDefinition): {
  outgoing: Map<string, WorkflowEdge[]>;
  incoming: Map<string, WorkflowEdge[]>;
} {
  const outgoing = new Map<string, WorkflowEdge[]>();
  const incoming = new Map<string, WorkflowEdge[]>();
  for (const node of definition.nodes) {
    outgoing.set(node.id, []);
    incoming.set(node.id, []);
  }
  for (const edge of definition.edges) {
    outgoing.get(edge.source)?.push(edge);
    incoming.get(edge.target)?.push(edge);
  }
  return { outgoing, incoming };
}

/** Node ids in a cycle, if any (Kahn's algorithm: what cannot be ordered is on or behind a cycle). */
export function nodesInCycles(
  ids: readonly string[],
  outgoing: ReadonlyMap<string, readonly WorkflowEdge[]>,
): string[] {
  const indegree = new Map(ids.map((id) => [id, 0]));
  for (const id of ids) {
    for (const edge of outgoing.get(id) ?? []) {
      indegree.set(edge.target, (indegree.get(edge.target) ?? 0) + 1);
    }
  }
  const queue = ids.filter((id) => indegree.get(id) === 0);
  const seen = new Set<string>();
  while (queue.length > 0) {
    const id = queue.pop() as string;
    seen.add(id);
    for (const edge of outgoing.get(id) ?? []) {
      const left = (indegree.get(edge.target) ?? 0) - 1;
      indegree.set(edge.target, left);
      if (left === 0) queue.push(edge.target);
    }
  }
  return ids.filter((id) => !seen.has(id));
}

/** Every node reachable from `start` along edges (start excluded). */
export function descendants(
  start: string,
  outgoing: ReadonlyMap<string, readonly WorkflowEdge[]>,
): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    for (const edge of outgoing.get(id) ?? []) {
      if (!seen.has(edge.target)) {
        seen.add(edge.target);
        stack.push(edge.target);
      }
    }
  }
  return seen;
}
