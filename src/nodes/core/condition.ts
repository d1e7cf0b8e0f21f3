import { z } from 'zod';
import { evaluateCondition } from '../../workflows/evaluate-expression.ts';
import type { NodeDefinition } from '../types.ts';

const configSchema = z
  .object({
    expression: z.string().min(1, 'an expression such as trigger.body.amount > 100'),
  })
  .strict();

/**
 * Evaluates a boolean expression over the trigger and earlier steps, and continues along the edges whose
 * sourceHandle is `true` or `false`. The expression is evaluated by our own parser, never by eval.
 */
export const conditionNode: NodeDefinition<z.infer<typeof configSchema>> = {
  type: 'condition',
  kind: 'action',
  title: 'Condition',
  description: 'Branches on a boolean expression: edges leave by the `true` or `false` handle.',
  configSchema,
  outputSchema: {
    type: 'object',
    properties: { result: { type: 'boolean' } },
    required: ['result'],
  },
  rawFields: ['expression'],
  pure: true,
  branches: ['true', 'false'],
  async run(config, context) {
    const result = evaluateCondition(config.expression, context.scope);
    return { output: { result }, branch: result ? 'true' : 'false' };
  },
};
