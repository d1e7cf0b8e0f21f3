import type pg from 'pg';
import { VigilError } from '../errors.ts';
import type { WorkflowDefinition } from '../workflows/definition.ts';
import { type CompiledWorkflow, compileWorkflow } from '../workflows/graph.ts';
import { loadWorkflowVersion } from '../workflows/store.ts';
import { validateDefinition } from '../workflows/validate.ts';

/**
 * Compiled workflow versions by (organization, workflow, version). A version never changes once saved,
 * so an entry never goes stale; the map is only bounded (oldest out first).
 */
export class WorkflowCache {
  private readonly entries = new Map<string, CompiledWorkflow>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxEntries = 2_000,
  ) {}

  async get(
    organizationId: string,
    workflowId: string,
    version: number,
  ): Promise<CompiledWorkflow> {
    const key = `${organizationId}/${workflowId}/${version}`;
    const hit = this.entries.get(key);
    if (hit) return hit;
    const definition = await loadWorkflowVersion(this.pool, organizationId, workflowId, version);
    return this.put(key, definition);
  }

  /** Seeds the cache with a definition just saved (the API has it in hand). */
  remember(
    organizationId: string,
    workflowId: string,
    version: number,
    definition: WorkflowDefinition,
  ): CompiledWorkflow {
    return this.put(`${organizationId}/${workflowId}/${version}`, definition);
  }

  private put(key: string, definition: WorkflowDefinition): CompiledWorkflow {
    // Stored definitions passed validation when saved; parsing again applies the schema's defaults.
    const checked = validateDefinition(definition);
    if (!checked.ok) {
      throw new VigilError(
        'WORKFLOW_DEFINITION_INVALID',
        `The stored definition no longer validates: ${checked.problems[0]?.message}`,
      );
    }
    const compiled = compileWorkflow(checked.definition);
    this.entries.set(key, compiled);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return compiled;
  }
}
