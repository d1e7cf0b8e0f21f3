import { z } from 'zod';

/**
 * The workflow definition: `{ nodes, edges }` in the shape React Flow uses, so the editor can save what it
 * draws. Fields React Flow adds (width, selected, ...) are kept as they are; Vigil reads only these.
 */
export const NODE_ID = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export const retrySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(10),
    initialDelayMs: z.number().int().min(0).max(60_000).default(200),
    maxDelayMs: z.number().int().min(0).max(300_000).default(10_000),
  })
  .strict();

export const nodeSchema = z
  .object({
    id: z.string().regex(NODE_ID, 'letters, digits, _ and -, starting with a letter or _'),
    type: z.string().min(1),
    position: z.object({ x: z.number(), y: z.number() }).default({ x: 0, y: 0 }),
    data: z
      .object({
        label: z.string().max(200).optional(),
        config: z.unknown().default({}),
        retry: retrySchema.optional(),
        timeoutMs: z.number().int().positive().max(3_600_000).optional(),
      })
      .loose()
      .default({ config: {} }),
  })
  .loose();

export const edgeSchema = z
  .object({
    id: z.string().optional(),
    source: z.string().min(1),
    target: z.string().min(1),
    sourceHandle: z.string().nullish(),
    targetHandle: z.string().nullish(),
  })
  .loose();

export const definitionSchema = z
  .object({
    nodes: z.array(nodeSchema).min(1).max(500),
    edges: z.array(edgeSchema).max(2_000).default([]),
  })
  .loose();

export type WorkflowDefinition = z.infer<typeof definitionSchema>;
export type WorkflowNode = z.infer<typeof nodeSchema>;
export type WorkflowEdge = z.infer<typeof edgeSchema>;
export type RetryPolicy = z.infer<typeof retrySchema>;
