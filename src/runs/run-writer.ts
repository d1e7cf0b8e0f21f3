import type pg from 'pg';
import { Batcher } from './batcher.ts';
import { type FinalizeItem, type FinalizeParams, finalizeRuns } from './finalize-run.ts';
import { uuidv7 } from './ids.ts';
import { type RecordStepsResult, recordStepsBatch, type StepBatchItem } from './record-steps.ts';
import { insertRuns, type StartRunParams, type StartRunResult } from './start-run.ts';
import { stepBytes } from './step-rows.ts';
import type { RunLease, StepRecord } from './types.ts';

export interface RunWriterOptions {
  /** Most runs per statement. */
  maxBatch?: number;
  /** Statements of each kind in flight at once. */
  concurrency?: number;
}

const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * The writes of the run path (start, step checkpoints, finalize), each through its own group-commit
 * batcher: concurrent runs share statements and commits, and each caller still returns only once its
 * own rows are committed.
 */
export class RunWriter {
  private readonly starts: Batcher<StartRunParams, StartRunResult>;
  private readonly steps: Batcher<StepBatchItem, RecordStepsResult>;
  private readonly finals: Batcher<FinalizeItem, boolean>;

  constructor(pool: pg.Pool, options: RunWriterOptions = {}) {
    const common = {
      maxItems: options.maxBatch ?? 64,
      maxBytes: MAX_BATCH_BYTES,
      concurrency: options.concurrency ?? 2,
    };
    this.starts = new Batcher((items) => insertRuns(pool, items), {
      ...common,
      sizeOf: (item) => item.triggerOutputJson.length + 512,
    });
    this.steps = new Batcher((items) => recordStepsBatch(pool, items), {
      ...common,
      sizeOf: (item) => stepBytes(item.steps),
    });
    this.finals = new Batcher((items) => finalizeRuns(pool, items), {
      ...common,
      sizeOf: (item) => stepBytes(item.params.steps ?? []) + (item.params.outputJson?.length ?? 0),
    });
  }

  /** The id is fixed before the first attempt, so a retried statement finds its own run. */
  start(params: StartRunParams): Promise<StartRunResult> {
    return this.starts.submit({ ...params, runId: params.runId ?? uuidv7() });
  }

  recordSteps(lease: RunLease, steps: readonly StepRecord[]): Promise<RecordStepsResult> {
    return this.steps.submit({ lease, steps });
  }

  finalize(lease: RunLease, params: FinalizeParams): Promise<boolean> {
    return this.finals.submit({ lease, params });
  }
}
