import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import pg from 'pg';
import { messageOf } from '../errors.ts';
import type { NodeServices } from '../nodes/types.ts';
import type { Logger } from '../observability/logger.ts';
import { claimRuns, loadRunContext, renewLeases } from '../runs/claim-runs.ts';
import { uuidv7 } from '../runs/ids.ts';
import { loadCommittedSteps } from '../runs/record-steps.ts';
import type { RunWriter } from '../runs/run-writer.ts';
import { RUNS_CHANNEL } from '../runs/start-run.ts';
import type { RunLease } from '../runs/types.ts';
import type { CompiledWorkflow } from '../workflows/graph.ts';
import { executeRun, type RunOutcome } from './execute-run.ts';
import type { WorkflowCache } from './workflow-cache.ts';

export interface RunWorkerOptions {
  pool: pg.Pool;
  writer: RunWriter;
  /** For LISTEN: a connection string, since LISTEN needs a connection of its own. */
  databaseUrl: string;
  logger: Logger;
  services: NodeServices;
  workflows: WorkflowCache;
  leaseSeconds: number;
  concurrency: number;
  runTimeoutMs: number;
  maxPayloadBytes: number;
  /** Backstop poll for expired leases and missed signals. */
  pollIntervalMs?: number;
}

export interface RunFinished extends RunOutcome {
  runId: string;
}

/**
 * Executes runs in this process. Runs arrive three ways: handed over at once by the process that
 * accepted the trigger (it wrote the run already leased to this worker: no claim, no wait); claimed after
 * a wake-up (an in-process signal, or NOTIFY from another process); claimed by the backstop poll, which
 * also picks up runs whose worker died (expired lease) and resumes them after their last committed step.
 */
export class RunWorker {
  /** Written into lease_owner: which process holds a run, for operators reading the table. */
  readonly owner = `${hostname()}:${process.pid}:${uuidv7().slice(-12)}`;
  private readonly active = new Map<string, { lease: RunLease; cancel: AbortController }>();
  private readonly finished = new EventEmitter();
  /** Outcomes of runs that finished here lately, for a waiter that arrives just after the end. */
  private readonly recent = new Map<string, RunFinished>();
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private claiming = false;
  private claimAgain = false;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly options: RunWorkerOptions) {
    this.log = options.logger.child({ component: 'worker' });
    this.finished.setMaxListeners(0);
  }

  start(): void {
    const pollMs = this.options.pollIntervalMs ?? 1_000;
    this.pollTimer = setInterval(() => this.wake(), pollMs);
    this.heartbeatTimer = setInterval(
      () => void this.heartbeat(),
      Math.max(250, (this.options.leaseSeconds * 1000) / 3),
    );
    void this.listen();
    this.wake();
  }

  /** Free slots: the accepting process runs a new run itself only when it has one. */
  hasCapacity(): boolean {
    return !this.stopped && this.active.size < this.options.concurrency;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /**
   * Executes a run that the caller has just written as `running` under this worker's lease (the fast
   * path: the trigger step is its only committed step, and the workflow is already compiled).
   */
  runLeased(lease: RunLease, workflow: CompiledWorkflow, triggerOutput: unknown): void {
    const settled = new Map([[workflow.trigger.id, { status: 'success', output: triggerOutput }]]);
    this.execute(lease, workflow, new Date(), settled, false);
  }

  /** Asks for a claim pass soon; many calls in a burst make one pass. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = true;
    setImmediate(() => void this.claimPass());
  }

  /** Stops at the next step boundary a run executing in this process. Returns false if not here. */
  cancelLocal(runId: string): boolean {
    const run = this.active.get(runId);
    run?.cancel.abort();
    return run !== undefined;
  }

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  /** Resolves when a run executing in this process finishes, or undefined after timeoutMs. */
  waitLocal(runId: string, timeoutMs: number): Promise<RunFinished | undefined> {
    const done = this.recent.get(runId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => {
      const onFinish = (result: RunFinished) => {
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        this.finished.off(runId, onFinish);
        resolve(undefined);
      }, timeoutMs);
      this.finished.once(runId, onFinish);
    });
  }

  /**
   * Stops taking work and waits (up to graceMs) for runs in flight; runs still going after that keep
   * their committed steps and are resumed by another worker when their lease expires.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private async claimPass(): Promise<void> {
    try {
      do {
        this.claimAgain = false;
        const free = this.options.concurrency - this.active.size;
        if (free <= 0 || this.stopped) break;
        const leases = await claimRuns(
          this.options.pool,
          this.owner,
          this.options.leaseSeconds,
          Math.min(free, 32),
        );
        for (const lease of leases) void this.resume(lease);
        if (leases.length === Math.min(free, 32)) this.claimAgain = true;
      } while (this.claimAgain && !this.stopped);
    } catch (error) {
      this.log.error({ err: error }, 'claiming runs failed; the next poll retries');
    } finally {
      this.claiming = false;
    }
  }

  /** A claimed run: load what it needs, then execute after its last committed step. */
  private async resume(lease: RunLease): Promise<void> {
    const { pool } = this.options;
    try {
      const context = await loadRunContext(pool, lease);
      if (!context) return;
      const workflow = await this.options.workflows.get(
        lease.organizationId,
        context.workflowId,
        context.workflowVersion,
      );
      const committed = await loadCommittedSteps(pool, lease);
      // A run that never got past its trigger, whose workflow was disabled or deleted while it
      // waited, is skipped; a run already under way finishes what it started.
      if (!context.workflowActive && committed.length <= 1) {
        await this.skip(lease, 'The workflow was disabled or deleted before this run started');
        return;
      }
      const settled = new Map(committed.map((s) => [s.nodeId, s]));
      // The trigger's output is the run's input (stored once, on the run row).
      settled.set(workflow.trigger.id, {
        nodeId: workflow.trigger.id,
        status: 'success',
        output: context.input,
      });
      this.execute(lease, workflow, context.startedAt, settled, context.cancelRequested);
    } catch (error) {
      this.log.error({ err: error, runId: lease.runId }, 'could not resume run');
      const message = `The run could not be started: ${messageOf(error)}`;
      await this.options.writer
        .finalize(lease, {
          status: 'error',
          outputJson: null,
          errorCode: 'RUN_START_FAILED',
          errorMessage: message,
        })
        .catch(() => undefined);
      this.announce({
        runId: lease.runId,
        status: 'error',
        output: null,
        error: { code: 'RUN_START_FAILED', message },
      });
    }
  }

  private async skip(lease: RunLease, message: string): Promise<void> {
    const error = { code: 'WORKFLOW_DISABLED', message };
    const done = await this.options.writer.finalize(lease, {
      status: 'skipped',
      outputJson: null,
      errorCode: error.code,
      errorMessage: error.message,
    });
    if (done) this.announce({ runId: lease.runId, status: 'skipped', output: null, error });
  }

  private execute(
    lease: RunLease,
    workflow: CompiledWorkflow,
    startedAt: Date,
    settled: ReadonlyMap<string, { status: string; output: unknown }>,
    cancelRequested: boolean,
  ): void {
    const cancel = new AbortController();
    if (cancelRequested) cancel.abort();
    this.active.set(lease.runId, { lease, cancel });
    const { writer, logger, services, maxPayloadBytes, runTimeoutMs } = this.options;
    executeRun(
      { writer, logger, services, maxPayloadBytes, runTimeoutMs },
      { lease, workflow, startedAt, settled, cancelSignal: cancel.signal },
    )
      .catch((error): RunOutcome => {
        // A database failure mid-run: the run keeps its committed steps and its lease runs out, then
        // a worker resumes it. Nothing to finalize from here.
        this.log.error({ err: error, runId: lease.runId }, 'run interrupted; it will be resumed');
        return { status: 'lost', output: null, error: null };
      })
      .then((outcome) => {
        this.active.delete(lease.runId);
        if (outcome.status !== 'lost') this.announce({ runId: lease.runId, ...outcome });
        // A slot is free: take queued work, if any.
        this.wake();
      });
  }

  /** Tells waiters that a run finished (also for runs that finished without a worker: pure runs). */
  announce(result: RunFinished): void {
    this.recent.set(result.runId, result);
    if (this.recent.size > 1_000) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
    this.finished.emit(result.runId, result);
  }

  private async heartbeat(): Promise<void> {
    const leases = [...this.active.values()].map((run) => run.lease);
    if (leases.length === 0) return;
    try {
      const held = await renewLeases(this.options.pool, leases, this.options.leaseSeconds);
      for (const lease of leases) {
        const run = this.active.get(lease.runId);
        if (!held.has(lease.runId) && run) {
          // Claimed by another worker after our lease lapsed (or finished a moment ago): stop at the
          // next step boundary; our next commit would be refused anyway.
          this.log.warn({ runId: lease.runId }, 'lease lost; stopping this execution of the run');
          run.cancel.abort();
        }
      }
    } catch (error) {
      this.log.warn({ err: error }, 'renewing leases failed');
    }
  }

  /** LISTEN for runs queued by other processes; reconnects with a delay when the connection drops. */
  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    client.on('error', () => undefined);
    client.on('notification', () => this.wake());
    client.on('end', () => {
      if (this.listener === client && !this.stopped) {
        this.listener = undefined;
        setTimeout(() => void this.listen(), 1_000);
      }
    });
    try {
      await client.connect();
      await client.query(`listen ${RUNS_CHANNEL}`);
      if (this.stopped) {
        await client.end();
        return;
      }
      this.listener = client;
    } catch (error) {
      this.log.warn({ err: error }, 'LISTEN failed; polling meanwhile, retrying in 1 s');
      await client.end().catch(() => undefined);
      setTimeout(() => void this.listen(), 1_000);
    }
  }
}
