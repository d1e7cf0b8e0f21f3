import { z } from 'zod';
import type { NodeDefinition } from '../types.ts';

/** Started by a person or an agent (API, CLI, MCP); its output is the run's input object. */
export const manualTrigger: NodeDefinition<Record<string, never>> = {
  type: 'manual',
  kind: 'trigger',
  title: 'Manual trigger',
  description: 'Starts when someone runs the workflow through the API, the CLI or an agent.',
  configSchema: z.object({}).strict(),
  outputSchema: { description: 'The input given to the run, as is.' },
};
