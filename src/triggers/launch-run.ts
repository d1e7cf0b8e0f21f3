import type pg from 'pg';
import { executeRun, MemoryCheckpoints, NEVER_ABORTED } from '../engine/execute-run.ts';
import { sleep } from '../engine/retry.ts';
import type { RunFinished, RunWorker } from '../engine/run-worker.ts';
import type { WorkflowCache } from '../engine/workflow-cache.ts';
import { VigilError } from '../errors.ts';
import { uuidv7 } from '../runs/ids.ts';
import type { RunWriter } from '../runs/run-writer.ts';
import type { StartRunParams } from '../runs/start-run.ts';
import type { Attribution, TriggerInfo } from '../runs/types.ts';
import type { CompiledWorkflow } from '../workflows/graph.ts';

export interface LaunchParams {
  organizationId: string;
  workflowId: string;
  workflowVersion: number;
  trigger: TriggerInfo;
  triggerOutput: unknown;
  attribution?: Attribution;
  dispatchKey?: string | null;
}

export interface FinishedRunSummary {
  runId: string;
  status: string;
  output: unknown;
  error: { code: string; message: string } | null;
}

/**
 * Turns a trigger firing into a run, for every kind of trigger. When this process has a free slot, the
 * run is written already leased to its worker and starts at once (no poll, no claim); otherwise it is
 * queued and workers are woken (in-process, and by NOTIFY in the same commit for other processes).
 */
export class RunLauncher {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      writer: RunWriter;
      worker: RunWorker;
      workflows: WorkflowCache;
      maxPayloadBytes: number;
      leaseSeconds: number;
      /** For pure runs executed here before they are recorded. */
      execute: Omit<Parameters<typeof executeRun>[0], 'writer'>;
    },
  ) {}

  async launch(params: LaunchParams): Promise<{ runId: string; created: boolean }> {
    const { writer, worker, workflows } = this.deps;
    const triggerOutputJson = JSON.stringify(params.triggerOutput ?? null);
    const size = Buffer.byteLength(triggerOutputJson);
    if (size > this.deps.maxPayloadBytes) {
      throw new VigilError(
        'PAYLOAD_TOO_LARGE',
        `The run's input is ${size} bytes, over the ${this.deps.maxPayloadBytes}-byte limit`,
      );
    }
    const workflow = await workflows.get(
      params.organizationId,
      params.workflowId,
      params.workflowVersion,
    );
    const runNow = worker.hasCapacity();
    const start: StartRunParams = {
      organizationId: params.organizationId,
      workflowId: params.workflowId,
      workflowVersion: params.workflowVersion,
      trigger: params.trigger,
      triggerNode: { id: workflow.trigger.id, type: workflow.trigger.type },
      triggerOutputJson,
      dispatchKey: params.dispatchKey,
      attribution: params.attribution,
      lease: runNow ? { owner: worker.owner, seconds: this.deps.leaseSeconds } : undefined,
    };
    if (runNow && workflow.pure) return this.launchPure(start, workflow, params.triggerOutput);
    const started = await writer.start(start);
    if (started.created && started.lease) {
      worker.runLeased(started.lease, workflow, params.triggerOutput ?? null);
    } else if (started.created) {
      worker.wake();
    }
    return { runId: started.runId, created: started.created };
  }

  /**
   * Every step is pure: run it all now, in memory, and record the finished run, its trigger and its
   * steps in one statement. A crash before that commit leaves nothing to redo (docs/engine.md).
   */
  private async launchPure(
    start: StartRunParams,
    workflow: CompiledWorkflow,
    triggerOutput: unknown,
  ): Promise<{ runId: string; created: boolean }> {
    const runId = uuidv7();
    const memory = new MemoryCheckpoints();
    const startedAt = new Date();
    const outcome = await executeRun(
      { ...this.deps.execute, writer: memory },
      {
        lease: { runId, organizationId: start.organizationId, epoch: 0 },
        workflow,
        startedAt,
        settled: new Map([
          [workflow.trigger.id, { status: 'success', output: triggerOutput ?? null }],
        ]),
        cancelSignal: NEVER_ABORTED,
      },
    );
    const final = memory.final;
    if (!final || outcome.status === 'lost')
      throw new Error('launchPure: a pure run did not finish');
    const recorded = await this.deps.writer.start({
      ...start,
      runId,
      finished: {
        status: final.status,
        outputJson: final.outputJson,
        errorCode: final.errorCode ?? null,
        errorMessage: final.errorMessage ?? null,
        durationMs: Date.now() - startedAt.getTime(),
        steps: memory.steps,
      },
    });
    if (recorded.created) this.deps.worker.announce({ runId, ...outcome });
    return { runId: recorded.runId, created: recorded.created };
  }

  /**
   * Waits up to timeoutMs for a run to finish. A run executing here is awaited by event; one executing
   * elsewhere (or still queued) is polled every 100 ms.
   */
  async wait(
    organizationId: string,
    runId: string,
    timeoutMs: number,
  ): Promise<FinishedRunSummary | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.deps.worker.isActive(runId)) {
        const local: RunFinished | undefined = await this.deps.worker.waitLocal(
          runId,
          deadline - Date.now(),
        );
        if (local) return local;
        continue;
      }
      const local = await this.deps.worker.waitLocal(runId, 0);
      if (local) return local;
      const row = await this.deps.pool.query<{
        status: string;
        output: unknown;
        error_code: string | null;
        error_message: string | null;
      }>({
        name: 'vigil_wait_run',
        text: `select status, output, error_code, error_message from workflow_executions
               where id = $1 and organization_id = $2`,
        values: [runId, organizationId],
      });
      const run = row.rows[0];
      if (!run) throw new VigilError('RUN_NOT_FOUND', `No run ${runId}`);
      if (run.status !== 'queued' && run.status !== 'running') {
        return {
          runId,
          status: run.status,
          output: run.output,
          error: run.error_code ? { code: run.error_code, message: run.error_message ?? '' } : null,
        };
      }
      await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
    return undefined;
  }
}
