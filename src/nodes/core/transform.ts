import { z } from 'zod';
import type { NodeDefinition } from '../types.ts';

const configSchema = z
  .object({
    fields: z.record(z.string().min(1), z.unknown()),
  })
  .strict();

/**
 * Builds an object from templates and literals. The engine resolves the templates before run(), so a
 * field that is exactly one reference keeps its type; the node only returns the result.
 */
export const transformNode: NodeDefinition<z.infer<typeof configSchema>> = {
  type: 'transform',
  kind: 'action',
  title: 'Transform',
  description:
    'Builds an object whose fields are templates (`{{trigger.body.amount}}`) or literals.',
  configSchema,
  outputSchema: { type: 'object', description: 'the fields, resolved' },
  pure: true,
  async run(config) {
    return { output: config.fields };
  },
};
