import { isVigilError, VigilError } from '../errors.ts';
import type { NodeResult, NodeServices } from '../nodes/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { FinalizeParams } from '../runs/finalize-run.ts';
import type { RecordStepsResult } from '../runs/record-steps.ts';
import type { FinalRunStatus, RunLease, StepRecord } from '../runs/types.ts';
import type { CompiledNode, CompiledWorkflow } from '../workflows/graph.ts';
import type { TemplateScope } from '../workflows/references.ts';
import { resolveTemplates } from '../workflows/templates.ts';
import { backoffDelayMs, isRetryable, sleep } from './retry.ts';

/** Where an execution commits its checkpoints and its end: the RunWriter, or memory (pure runs). */
export interface RunCheckpoints {
  recordSteps(lease: RunLease, steps: readonly StepRecord[]): Promise<RecordStepsResult>;
  finalize(lease: RunLease, params: FinalizeParams): Promise<boolean>;
}

/**
 * Keeps a pure run's steps and end in memory, for its launcher to record in one statement. Only for
 * workflows whose every step is pure: nothing here reaches the outside world before that commit.
 */
export class MemoryCheckpoints implements RunCheckpoints {
  readonly steps: StepRecord[] = [];
  final: FinalizeParams | undefined;

  async recordSteps(_lease: RunLease, steps: readonly StepRecord[]): Promise<RecordStepsResult> {
    this.steps.push(...steps);
    return { leased: true, cancelRequested: false };
  }

  async finalize(_lease: RunLease, params: FinalizeParams): Promise<boolean> {
    this.steps.push(...(params.steps ?? []));
    this.final = params;
    return true;
  }
}

export interface ExecuteRunDeps {
  writer: RunCheckpoints;
  logger: Logger;
  services: NodeServices;
  maxPayloadBytes: number;
  runTimeoutMs: number;
}

/** A step already settled: committed earlier (resume) or finished in this execution. */
interface Settled {
  status: StepRecord['status'];
  output: unknown;
  branch?: string;
}

export interface RunToExecute {
  lease: RunLease;
  workflow: CompiledWorkflow;
  /** When the run first started: the run timeout counts from here, across resumes. */
  startedAt: Date;
  /** The trigger's output and every step committed before this execution (resume), by node id. */
  settled: ReadonlyMap<string, { status: string; output: unknown }>;
  /** Aborted by an in-process cancel request; cross-process requests arrive with step commits. */
  cancelSignal: AbortSignal;
}

export interface RunOutcome {
  /** `lost`: another worker holds the run now; this one wrote nothing more. */
  status: FinalRunStatus | 'lost';
  output: unknown;
  error: { code: string; message: string } | null;
}

interface Stop {
  status: 'error' | 'cancelled';
  code: string;
  message: string;
}

/**
 * Walks a run's graph. Ready nodes run concurrently (fan-out); a node runs once every node leading into
 * it has settled and at least one edge into it is live (fan-in, and branches not taken are skipped).
 * Each finished step is committed before its dependants start, except the run's last write, which shares
 * the finalize statement: a run of one step after its trigger costs two commits in all.
 */
export async function executeRun(deps: ExecuteRunDeps, run: RunToExecute): Promise<RunOutcome> {
  const { workflow, lease } = run;
  // Child loggers cost an allocation and a serialisation of their bindings: made only when used.
  const log = lazyChild(deps.logger, { runId: lease.runId });
  const settled = new Map<string, Settled>();
  for (const [id, step] of run.settled) {
    const node = workflow.nodes.get(id);
    if (!node) continue;
    settled.set(id, {
      status: step.status as Settled['status'],
      output: step.output,
      branch: node.node.branches ? branchOf(step.output) : undefined,
    });
  }
  const running = new Map<string, Promise<StepRecord & { branch?: string }>>();
  let pending: StepRecord[] = [];
  let stop: Stop | undefined;

  // A pure workflow computes in memory and cannot outlast its time limit: no timer to arm for it.
  const runAbort = workflow.pure ? undefined : new AbortController();
  const deadline =
    runAbort &&
    setTimeout(
      () => {
        stop ??= {
          status: 'error',
          code: 'RUN_TIMEOUT',
          message: `The run took longer than its ${Math.round(deps.runTimeoutMs / 1000)} s limit`,
        };
        runAbort.abort();
      },
      Math.max(0, run.startedAt.getTime() + deps.runTimeoutMs - Date.now()),
    );
  const runSignal = runAbort?.signal ?? NEVER_ABORTED;
  const onCancel = () => {
    stop ??= cancelled();
  };
  run.cancelSignal.addEventListener('abort', onCancel, { once: true });
  if (run.cancelSignal.aborted) onCancel();

  // Templates read earlier steps' outputs from here; only successful steps have one.
  const outputs = new Map<string, { output: unknown }>();
  for (const [id, step] of settled)
    if (step.status === 'success') outputs.set(id, { output: step.output });
  const scope: TemplateScope = {
    trigger: outputs.get(workflow.trigger.id)?.output ?? null,
    nodes: outputs,
  };

  try {
    while (true) {
      const ready = stop ? [] : readyNodes(workflow, settled, running, pending);
      for (const node of ready) {
        running.set(
          node.id,
          runStep(deps, log, run, node, scope, runSignal, () => stop),
        );
      }
      if (running.size === 0) break;

      const step = await Promise.race(running.values());
      running.delete(step.nodeId);
      settled.set(step.nodeId, { status: step.status, output: step.output, branch: step.branch });
      if (step.status === 'success') outputs.set(step.nodeId, { output: step.output });
      const { branch: _branch, output: _output, ...record } = step;
      if (step.status === 'error') {
        stop ??= {
          status: 'error',
          code: step.errorCode ?? 'STEP_FAILED',
          message: `Step "${step.nodeId}" failed: ${step.errorMessage ?? 'unknown error'}`,
        };
      }
      pending.push(record);

      // Is this the run's last write? Then it goes with the finalize, in one commit.
      const next = stop ? [] : readyNodes(workflow, settled, running, pending);
      if (running.size === 0 && next.length === 0) break;
      const committed = await deps.writer.recordSteps(lease, pending);
      pending = [];
      if (!committed.leased) return lost(log);
      if (committed.cancelRequested) stop ??= cancelled();
    }

    const status: FinalRunStatus = stop ? stop.status : 'success';
    const output = stop ? null : runOutput(workflow, settled);
    const error = stop ? { code: stop.code, message: stop.message } : null;
    const finalized = await deps.writer.finalize(lease, {
      status,
      outputJson: output === null ? null : JSON.stringify(output),
      errorCode: error?.code ?? null,
      errorMessage: error?.message ?? null,
      steps: pending,
    });
    if (!finalized) return lost(log);
    return { status, output, error };
  } finally {
    clearTimeout(deadline);
    run.cancelSignal.removeEventListener('abort', onCancel);
  }
}

/** A signal that never fires, shared: for runs with nothing to cancel or time out. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

function cancelled(): Stop {
  return { status: 'cancelled', code: 'RUN_CANCELLED', message: 'The run was cancelled' };
}

function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  return new Proxy({} as Logger, {
    get(_, property) {
      child ??= parent.child(bindings);
      const value = Reflect.get(child, property, child);
      return typeof value === 'function' ? value.bind(child) : value;
    },
  });
}

function lost(log: Logger): RunOutcome {
  log.warn('run lease lost to another worker; leaving the run to it');
  return { status: 'lost', output: null, error: null };
}

/** The branch a settled branching node took, read back from its output (`{ result: boolean }`). */
function branchOf(output: unknown): string | undefined {
  const result = (output as { result?: unknown } | null)?.result;
  return typeof result === 'boolean' ? String(result) : undefined;
}

/**
 * Nodes whose inputs have all settled and that have a live edge in; nodes whose inputs settled with no
 * live edge are marked skipped (and so on down the graph), their rows joining the next write.
 */
function readyNodes(
  workflow: CompiledWorkflow,
  settled: Map<string, Settled>,
  running: ReadonlyMap<string, unknown>,
  pending: StepRecord[],
): CompiledNode[] {
  const ready: CompiledNode[] = [];
  let changed = true;
  while (changed) {
    changed = false;
    for (const node of workflow.nodes.values()) {
      if (settled.has(node.id) || running.has(node.id) || ready.includes(node)) continue;
      const incoming = workflow.incoming.get(node.id) ?? [];
      if (incoming.length === 0) continue;
      let live = false;
      let waiting = false;
      for (const edge of incoming) {
        const source = settled.get(edge.source);
        if (!source) {
          waiting = true;
          break;
        }
        const sourceNode = workflow.nodes.get(edge.source);
        const follows = !sourceNode?.node.branches || edge.sourceHandle === source.branch;
        if (source.status === 'success' && follows) live = true;
      }
      if (waiting) continue;
      if (live) {
        ready.push(node);
      } else {
        const now = new Date();
        settled.set(node.id, { status: 'skipped', output: null });
        pending.push({
          nodeId: node.id,
          nodeType: node.type,
          status: 'skipped',
          attempt: 0,
          startedAt: now,
          completedAt: now,
          durationMs: 0,
        });
        changed = true;
      }
    }
  }
  return ready;
}

/** The run's output: the output of its one last step, or of each last step by node id. */
function runOutput(workflow: CompiledWorkflow, settled: Map<string, Settled>): unknown {
  const leaves: [string, unknown][] = [];
  for (const [id, step] of settled) {
    if (step.status !== 'success') continue;
    const after = workflow.outgoing.get(id) ?? [];
    if (!after.some((edge) => settled.get(edge.target)?.status === 'success')) {
      leaves.push([id, step.output]);
    }
  }
  if (leaves.length === 1) return leaves[0]?.[1] ?? null;
  return Object.fromEntries(leaves);
}

type StepResult = StepRecord & { branch?: string };

/** One step with its retries. Never throws: failures become an error record with a stable code. */
async function runStep(
  deps: ExecuteRunDeps,
  log: Logger,
  run: RunToExecute,
  node: CompiledNode,
  scope: TemplateScope,
  runSignal: AbortSignal,
  stopped: () => Stop | undefined,
): Promise<StepResult> {
  const base = { nodeId: node.id, nodeType: node.type };
  const startedAt = new Date();
  const started = performance.now();
  let inputJson: string | undefined;
  for (let attempt = 1; ; attempt++) {
    const finish = (fields: Partial<StepResult>): StepResult => ({
      ...base,
      status: 'error',
      attempt,
      inputJson: storedInput(inputJson, deps.maxPayloadBytes),
      startedAt,
      completedAt: new Date(),
      durationMs: Math.round(performance.now() - started),
      ...fields,
    });
    try {
      const input = resolveConfig(node, scope);
      inputJson = JSON.stringify(input);
      const parsed = node.node.configSchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new VigilError(
          'CONFIG_INVALID',
          `after templates were filled in, ${issue?.path.join('.') || 'config'}: ${issue?.message}`,
        );
      }
      if (!node.node.run) throw new VigilError('NODE_NOT_RUNNABLE', `${node.type} cannot run`);
      const context = (signal: AbortSignal) => ({
        runId: run.lease.runId,
        organizationId: run.lease.organizationId,
        nodeId: node.id,
        attempt,
        signal,
        logger: lazyChild(log, { nodeId: node.id }),
        scope,
        services: deps.services,
      });
      let result: NodeResult;
      if (node.node.pure) {
        // Pure steps compute in memory and return at once: no timer to arm for them.
        result = await node.node.run(parsed.data, context(runSignal));
      } else {
        const stepTimeout = AbortSignal.timeout(node.timeoutMs);
        const signal = AbortSignal.any([stepTimeout, runSignal]);
        result = await withAbort(node.node.run(parsed.data, context(signal)), signal, () =>
          stepTimeout.aborted
            ? new VigilError(
                'STEP_TIMEOUT',
                `The step ran longer than its ${node.timeoutMs} ms limit and was stopped`,
              )
            : new VigilError('RUN_TIMEOUT', 'The run reached its time limit during this step'),
        );
      }
      const outputJson = JSON.stringify(result.output ?? null);
      if (Buffer.byteLength(outputJson) > deps.maxPayloadBytes) {
        throw new VigilError(
          'STEP_OUTPUT_TOO_LARGE',
          `The step's output is ${Buffer.byteLength(outputJson)} bytes, over the ` +
            `${deps.maxPayloadBytes}-byte limit (VIGIL_MAX_PAYLOAD_BYTES)`,
        );
      }
      return finish({
        status: 'success',
        output: result.output ?? null,
        outputJson,
        branch: result.branch,
      });
    } catch (error) {
      const code = isVigilError(error) ? error.code : 'STEP_FAILED';
      const message = error instanceof Error ? error.message : String(error);
      if (!isVigilError(error)) log.warn({ err: error, nodeId: node.id }, 'step threw');
      if (isRetryable(code) && attempt < node.retry.maxAttempts && !stopped()) {
        const delay = backoffDelayMs(node.retry, attempt);
        log.debug({ nodeId: node.id, attempt, code, delay }, 'retrying step');
        await sleep(delay, runSignal);
        if (!runSignal.aborted) continue;
      }
      return finish({ status: 'error', errorCode: code, errorMessage: message });
    }
  }
}

function resolveConfig(node: CompiledNode, scope: TemplateScope): unknown {
  const raw = node.node.rawFields;
  const config = node.config as Record<string, unknown>;
  if (!raw || config === null || typeof config !== 'object') return resolveTemplates(config, scope);
  const templated: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!raw.includes(key)) templated[key] = value;
  }
  const resolved = resolveTemplates<Record<string, unknown>>(templated, scope);
  for (const key of raw) if (key in config) resolved[key] = config[key];
  return resolved;
}

/** A step's resolved config is kept as its input, unless it is too large to be worth a row. */
function storedInput(inputJson: string | undefined, maxBytes: number): string {
  if (inputJson === undefined) return 'null';
  // A UTF-8 byte is at most 3 per UTF-16 unit: short strings need no byte count.
  if (inputJson.length * 3 <= maxBytes) return inputJson;
  const size = Buffer.byteLength(inputJson);
  if (size <= maxBytes) return inputJson;
  return JSON.stringify({ omitted: `the resolved config is ${size} bytes, over ${maxBytes}` });
}

function withAbort<T>(work: Promise<T>, signal: AbortSignal, reason: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
