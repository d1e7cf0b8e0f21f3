import { z } from 'zod';
import type { NodeDefinition } from '../types.ts';

const configSchema = z
  .object({
    /** The body of a function of `input`; its return value is the step's output. */
    code: z.string().min(1, 'the body of a function, for example: return input.trigger.body.a * 2'),
    timeoutMs: z.number().int().positive().max(30_000).default(1_000),
    memoryLimitBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .max(256 * 1024 * 1024)
      .default(32 * 1024 * 1024),
  })
  .strict();

type Config = z.infer<typeof configSchema>;

/**
 * Runs a short JavaScript function in QuickJS compiled to WebAssembly, in a worker thread: no process,
 * network or file system, with time and memory limits. `input` holds `trigger` and each earlier step's
 * output by node id: `input.trigger.body`, `input.steps.check.output`.
 */
export const codeNode: NodeDefinition<Config> = {
  type: 'code',
  kind: 'action',
  title: 'Code',
  description: 'Runs a short sandboxed JavaScript function of `input` (trigger and earlier steps).',
  configSchema,
  outputSchema: { description: 'whatever the function returns (JSON)' },
  rawFields: ['code'],
  defaults: { timeoutMs: 31_000 },
  async run(config, context) {
    const steps: Record<string, { output: unknown }> = {};
    const nodes = context.scope.nodes;
    const entries = nodes instanceof Map ? nodes.entries() : Object.entries(nodes);
    for (const [id, value] of entries) steps[id] = { output: value.output };
    const output = await context.services.sandbox.run({
      code: config.code,
      input: { trigger: context.scope.trigger, steps },
      timeoutMs: config.timeoutMs,
      memoryLimitBytes: config.memoryLimitBytes,
      maxOutputBytes: context.services.limits.maxPayloadBytes,
    });
    return { output };
  },
};
