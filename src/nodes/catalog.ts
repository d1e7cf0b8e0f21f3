import { z } from 'zod';
import { codeNode } from './core/code.ts';
import { conditionNode } from './core/condition.ts';
import { httpRequestNode } from './core/http-request.ts';
import { manualTrigger } from './core/manual.ts';
import { transformNode } from './core/transform.ts';
import { webhookTrigger } from './core/webhook.ts';
import type { AnyNodeDefinition } from './types.ts';

/** Every node type Vigil knows, by type name. */
export const nodeCatalog: ReadonlyMap<string, AnyNodeDefinition> = new Map(
  [manualTrigger, webhookTrigger, transformNode, conditionNode, httpRequestNode, codeNode].map(
    (node) => [node.type, node],
  ),
);

export function getNodeDefinition(type: string): AnyNodeDefinition | undefined {
  return nodeCatalog.get(type);
}

/** The catalog as data, for the editor's forms and for agents: config as JSON Schema. */
export function describeCatalog(): Record<string, unknown>[] {
  return [...nodeCatalog.values()].map((node) => ({
    type: node.type,
    kind: node.kind,
    title: node.title,
    description: node.description,
    branches: node.branches ?? null,
    configSchema: z.toJSONSchema(node.configSchema, { io: 'input', unrepresentable: 'any' }),
    outputSchema: node.outputSchema,
  }));
}
