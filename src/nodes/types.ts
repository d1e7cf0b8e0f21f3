import type { z } from 'zod';
import type { CodeSandbox } from '../engine/sandbox/code-sandbox.ts';
import type { Logger } from '../observability/logger.ts';
import type { TemplateScope } from '../workflows/references.ts';

/**
 * A node type of the catalog: what its config looks like (zod, exported as JSON Schema for the editor and
 * for agents), what it outputs, and how it runs. Trigger nodes do not run inside the engine: the trigger
 * (webhook, API, schedule, chain) builds their output, which is the run's first step.
 */
export interface NodeDefinition<Config = unknown> {
  type: string;
  kind: 'trigger' | 'action';
  title: string;
  description: string;
  configSchema: z.ZodType<Config>;
  /** A description of the output for people and agents (JSON Schema); not enforced at run time. */
  outputSchema: Record<string, unknown>;
  /**
   * Config fields the engine must not resolve as templates before run(), because the node evaluates
   * them itself against the scope (the condition's expression).
   */
  rawFields?: readonly string[];
  /** Outgoing edge handles the node chooses between (condition: true/false). Unset: one plain output. */
  branches?: readonly string[];
  /**
   * No effect outside the run, deterministic and quick: such a step may run in memory before its run is
   * recorded, since running it again after a crash is indistinguishable from running it once. A workflow
   * made only of pure steps is executed at once and recorded, finished, in a single commit.
   */
  pure?: boolean;
  /** Default retry policy and step timeout, overridable per node in the definition. */
  defaults?: { maxAttempts?: number; timeoutMs?: number };
  run?: (config: Config, context: NodeRunContext) => Promise<NodeResult>;
}

export interface NodeResult {
  output: unknown;
  /** The outgoing handle to follow when the node has branches. */
  branch?: string;
}

export interface NodeRunContext {
  runId: string;
  organizationId: string;
  nodeId: string;
  attempt: number;
  /** Aborted when the step times out, the run times out, or the process shuts down. */
  signal: AbortSignal;
  logger: Logger;
  /** The trigger's and earlier steps' outputs, for nodes that evaluate expressions themselves. */
  scope: TemplateScope;
  services: NodeServices;
}

export interface NodeServices {
  sandbox: CodeSandbox;
  limits: { maxPayloadBytes: number };
}

// biome-ignore lint/suspicious/noExplicitAny: the catalog holds node types of every config shape.
export type AnyNodeDefinition = NodeDefinition<any>;
