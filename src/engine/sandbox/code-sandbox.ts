import { Worker } from 'node:worker_threads';
import { VigilError } from '../../errors.ts';

/** One run of a `code` step. Limits are per run; the engine decides them. */
export interface CodeRunRequest {
  /** The body of a function: `return input.trigger.body.amount * 2`. `await` may be used. */
  code: string;
  /** JSON-serialisable; visible to the code as the variable `input` (a copy). */
  input: unknown;
  /** Wall-clock budget from the moment a worker takes the run (queueing is not counted). */
  timeoutMs: number;
  /** Heap the code may use, at least 1 MiB; enforced as the size of the wasm heap. */
  memoryLimitBytes: number;
  /** Size cap on the UTF-8 JSON of the returned value. */
  maxOutputBytes: number;
}

export interface CodeSandbox {
  /**
   * Resolves with the JSON-parsed return value (`undefined` becomes `null`), or rejects with a
   * VigilError whose code says what went wrong.
   */
  run(request: CodeRunRequest): Promise<unknown>;
  /** Terminates the workers and rejects runs still waiting or running; later runs reject. */
  close(): Promise<void>;
}

export interface CodeSandboxOptions {
  /** Worker threads, started on demand; default 2. */
  workers?: number;
}

const DEFAULT_WORKERS = 2;
/** How long past its timeout a worker may stay silent before it is terminated. */
const BACKSTOP_GRACE_MS = 250;
/** QuickJS in wasm uses the thread's native stack heavily; see MAX_STACK_BYTES in the worker. */
const WORKER_STACK_MB = 16;
const MIN_MEMORY_LIMIT_BYTES = 1024 * 1024;
/** Beyond this a timer would overflow; no code step has a reason to run for a day anyway. */
const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const WORKER_URL = new URL('./sandbox-worker.mjs', import.meta.url);

type WorkerOutcome =
  | { kind: 'ok'; json: string }
  | { kind: 'timeout' }
  | { kind: 'memory' }
  | { kind: 'pending' }
  | {
      kind: 'error';
      name: string;
      message: string;
      syntax: boolean;
      line?: number;
      column?: number;
    }
  | { kind: 'output-invalid'; message: string }
  | { kind: 'output-too-large'; bytes: number; atLeast: boolean }
  | { kind: 'internal'; message: string };

type WorkerMessage = { type: 'ready' } | ({ type: 'result'; id: number } & WorkerOutcome);

interface Job {
  id: number;
  request: CodeRunRequest;
  inputJson: string;
  resolve: (value: unknown) => void;
  reject: (error: VigilError) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  dead: boolean;
  job: Job | null;
}

/**
 * Runs user-written step code in QuickJS compiled to WebAssembly, on a small pool of worker threads
 * so that a busy or endless script never blocks the main event loop. Each run gets a fresh QuickJS
 * runtime (nothing leaks between runs), a deadline enforced inside QuickJS, a hard memory cap on
 * the wasm heap, and, should a worker stop answering, termination of that worker.
 */
export function createCodeSandbox(options: CodeSandboxOptions = {}): CodeSandbox {
  const size = options.workers ?? DEFAULT_WORKERS;
  if (!Number.isInteger(size) || size < 1) {
    throw new VigilError(
      'CODE_REQUEST_INVALID',
      `The code sandbox needs at least 1 worker (got ${size})`,
    );
  }
  return new WorkerPool(size);
}

class WorkerPool implements CodeSandbox {
  readonly #size: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;

  constructor(size: number) {
    this.#size = size;
  }

  run(request: CodeRunRequest): Promise<unknown> {
    if (this.#closed) return Promise.reject(closedError());
    let inputJson: string;
    try {
      validate(request);
      inputJson = serialiseInput(request.input);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, request, inputJson, resolve, reject });
      this.#pump();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(closedError());
    const slots = this.#slots.splice(0);
    await Promise.all(
      slots.map(async (slot) => {
        slot.dead = true;
        if (slot.job) this.#finish(slot.job).reject(closedError());
        slot.job = null;
        await slot.worker.terminate();
      }),
    );
  }

  /** Hands queued runs to idle workers and starts workers (up to the pool size) for the rest. */
  #pump(): void {
    if (this.#closed) return;
    while (this.#queue.length > 0) {
      const slot = this.#slots.find((candidate) => candidate.ready && candidate.job === null);
      if (!slot) break;
      this.#dispatch(slot, this.#queue.shift()!);
    }
    const starting = this.#slots.filter((slot) => !slot.ready).length;
    for (let wanted = this.#queue.length - starting; wanted > 0; wanted--) {
      if (this.#slots.length >= this.#size) break;
      this.#spawn();
    }
    // Workers keep the process alive only while a run needs them; an idle pool never does.
    for (const slot of this.#slots) {
      if (slot.job !== null || (!slot.ready && this.#queue.length > 0)) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  #spawn(): void {
    const worker = new Worker(WORKER_URL, {
      // The entry is plain JavaScript: no loader flags, and no secrets from the environment.
      execArgv: [],
      env: {},
      resourceLimits: { stackSizeMb: WORKER_STACK_MB },
    });
    const slot: Slot = { worker, ready: false, dead: false, job: null };
    this.#slots.push(slot);
    worker.on('message', (message: WorkerMessage) => this.#onMessage(slot, message));
    worker.on('error', (error) => this.#retire(slot, error));
    worker.on('exit', (code) => this.#retire(slot, new Error(`worker exited with code ${code}`)));
  }

  #dispatch(slot: Slot, job: Job): void {
    slot.job = job;
    const { code, timeoutMs, memoryLimitBytes, maxOutputBytes } = job.request;
    job.timer = setTimeout(() => this.#backstop(slot, job), timeoutMs + BACKSTOP_GRACE_MS);
    slot.worker.postMessage({
      id: job.id,
      code,
      inputJson: job.inputJson,
      timeoutMs,
      memoryLimitBytes,
      maxOutputBytes,
    });
  }

  #onMessage(slot: Slot, message: WorkerMessage): void {
    if (slot.dead) return;
    if (message.type === 'ready') {
      slot.ready = true;
    } else if (slot.job !== null && slot.job.id === message.id) {
      const job = this.#finish(slot.job);
      slot.job = null;
      settle(job, message);
    }
    this.#pump();
  }

  /** The worker did not answer in time although QuickJS should have interrupted the code. */
  #backstop(slot: Slot, job: Job): void {
    if (slot.dead || slot.job !== job) return;
    this.#remove(slot);
    slot.job = null;
    void slot.worker.terminate();
    job.reject(timeoutError(job.request.timeoutMs));
    if (!this.#closed) this.#spawn();
    this.#pump();
  }

  #retire(slot: Slot, cause: Error): void {
    if (slot.dead) return;
    this.#remove(slot);
    const failure = (message: string) =>
      new VigilError('CODE_SANDBOX_FAILED', message, { cause, details: { reason: cause.message } });
    if (slot.job) {
      this.#finish(slot.job).reject(
        failure(`The code sandbox's worker failed while running the step (${cause.message})`),
      );
      slot.job = null;
    }
    if (!slot.ready) {
      // A worker that cannot even start will not start on a second try: fail what waits for one.
      const message = `The code sandbox could not start a worker (${cause.message})`;
      for (const job of this.#queue.splice(0)) job.reject(failure(message));
    }
    this.#pump();
  }

  #remove(slot: Slot): void {
    slot.dead = true;
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots.splice(index, 1);
  }

  #finish(job: Job): Job {
    clearTimeout(job.timer);
    return job;
  }
}

function validate(request: CodeRunRequest): void {
  const problems: string[] = [];
  if (typeof request.code !== 'string') problems.push('code must be a string');
  if (!(request.timeoutMs > 0 && request.timeoutMs <= MAX_TIMEOUT_MS)) {
    problems.push(`timeoutMs must be a positive number up to ${MAX_TIMEOUT_MS}`);
  }
  if (
    !(
      Number.isFinite(request.memoryLimitBytes) &&
      request.memoryLimitBytes >= MIN_MEMORY_LIMIT_BYTES
    )
  ) {
    problems.push(`memoryLimitBytes must be at least ${MIN_MEMORY_LIMIT_BYTES}`);
  }
  if (!(Number.isFinite(request.maxOutputBytes) && request.maxOutputBytes > 0)) {
    problems.push('maxOutputBytes must be a positive number');
  }
  if (problems.length > 0) {
    throw new VigilError('CODE_REQUEST_INVALID', `Invalid code step run: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
}

function serialiseInput(input: unknown): string {
  if (input === undefined) return 'null';
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch (error) {
    throw inputError(error instanceof Error ? error.message : String(error), error);
  }
  if (json === undefined) throw inputError(`a ${typeof input} has no JSON form`);
  return json;
}

function inputError(reason: string, cause?: unknown): VigilError {
  return new VigilError(
    'CODE_INPUT_INVALID',
    `The input of the code step cannot be turned into JSON (${reason})`,
    { cause },
  );
}

function settle(job: Job, outcome: WorkerOutcome): void {
  const { request } = job;
  switch (outcome.kind) {
    case 'ok': {
      let value: unknown;
      try {
        value = JSON.parse(outcome.json);
      } catch (error) {
        job.reject(outputInvalidError(error instanceof Error ? error.message : String(error)));
        return;
      }
      job.resolve(value);
      return;
    }
    case 'timeout':
      job.reject(timeoutError(request.timeoutMs));
      return;
    case 'memory':
      job.reject(
        new VigilError(
          'CODE_MEMORY_LIMIT',
          `The code step used more than its ${formatBytes(request.memoryLimitBytes)} memory ` +
            'limit and was stopped; work on less data at once or raise the limit',
          { details: { memoryLimitBytes: request.memoryLimitBytes } },
        ),
      );
      return;
    case 'pending':
      job.reject(
        new VigilError(
          'CODE_ERROR',
          'The code step awaited a promise that never settles; the sandbox has no timers, ' +
            'network or files, so only promises the code settles itself can finish',
        ),
      );
      return;
    case 'error':
      job.reject(codeError(request.code, outcome));
      return;
    case 'output-invalid':
      job.reject(outputInvalidError(outcome.message));
      return;
    case 'output-too-large': {
      const size = outcome.atLeast ? `more than ${outcome.bytes}` : `${outcome.bytes}`;
      job.reject(
        new VigilError(
          'CODE_OUTPUT_TOO_LARGE',
          `The code step returned ${size} bytes of JSON, above its limit of ` +
            `${request.maxOutputBytes} bytes; return less data`,
          { details: { bytes: outcome.bytes, maxOutputBytes: request.maxOutputBytes } },
        ),
      );
      return;
    }
    case 'internal':
      job.reject(
        new VigilError(
          'CODE_SANDBOX_FAILED',
          `The code sandbox failed while running the step (${outcome.message})`,
          { details: { reason: outcome.message } },
        ),
      );
      return;
  }
}

function codeError(code: string, outcome: Extract<WorkerOutcome, { kind: 'error' }>): VigilError {
  let where = '';
  if (outcome.line !== undefined) {
    const lines = code.split('\n').length;
    where =
      outcome.line > lines
        ? ' at the end of the code'
        : ` at line ${outcome.line}, column ${outcome.column ?? 1}`;
  }
  const details = { name: outcome.name, line: outcome.line, column: outcome.column };
  if (outcome.syntax) {
    return new VigilError(
      'CODE_ERROR',
      `The code step has a syntax error${where}: ${outcome.message}`,
      { details },
    );
  }
  const thrown = outcome.name ? `${outcome.name}: ${outcome.message}` : outcome.message;
  return new VigilError('CODE_ERROR', `The code step threw ${thrown}${where}`, { details });
}

function outputInvalidError(reason: string): VigilError {
  return new VigilError(
    'CODE_OUTPUT_INVALID',
    `The code step returned a value that cannot be turned into JSON (${reason}); ` +
      'return plain objects, arrays, strings, numbers, booleans or null',
    { details: { reason } },
  );
}

function timeoutError(timeoutMs: number): VigilError {
  return new VigilError(
    'CODE_TIMEOUT',
    `The code step ran longer than its ${timeoutMs} ms limit and was stopped`,
    { details: { timeoutMs } },
  );
}

function closedError(): VigilError {
  return new VigilError('CODE_SANDBOX_CLOSED', 'The code sandbox is closed and runs no more steps');
}

function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB` : `${bytes}-byte`;
}
