// Worker-thread entry of the code sandbox (see code-sandbox.ts). Plain JavaScript because a
// Worker's entry is not run through a TypeScript loader. It runs one job at a time: a fresh
// QuickJS runtime and context per job, inside a WebAssembly instance whose linear memory has a
// hard maximum.
//
// Protocol. In: { id, code, inputJson, timeoutMs, memoryLimitBytes, maxOutputBytes }.
// Out: { type: 'ready' } once, then per job { type: 'result', id, kind, ... } where kind is one of
// 'ok' (json), 'timeout', 'memory', 'error' (name, message, line, column, syntax), 'pending',
// 'output-invalid' (message), 'output-too-large' (bytes) or 'internal' (message).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { newQuickJSWASMModuleFromVariant, newVariant, RELEASE_SYNC } from 'quickjs-emscripten';

const PAGE_BYTES = 65536;
// The prebuilt QuickJS declares its memory as at least 256 pages (16 MiB), at most 32768 (2 GiB).
const MIN_PAGES = 256;
const MAX_PAGES = 32768;
// Used when the heap start cannot be probed: static data and C stack end near 5.1 MiB in 0.32.
const FALLBACK_HEAP_BASE = 6 * 1024 * 1024;
// QuickJS's own stack limit. Its frames also use the thread's native stack at a far higher rate
// (up to ~30x for the parser), so the worker is started with a 16 MiB native stack.
const MAX_STACK_BYTES = 256 * 1024;
// After a run that grew linear memory past this, the instance is dropped to give the memory back.
const KEEP_INSTANCE_BELOW_BYTES = 32 * 1024 * 1024;
const FILENAME = 'code-step.js';
// The user's code starts on line 1 of the file, after this prefix (columns on line 1 are shifted).
const PREFIX = '(async function (input) {';
const SUFFIX = '\n})';

// Helpers created in each fresh context before the user's code runs, so that code cannot replace
// what they use. `describe` turns anything thrown into [name, message, stack, isNull] as JSON
// (QuickJS throws null when it runs out of memory while creating its out-of-memory error);
// `replacer` refuses functions and symbols (JSON.stringify would otherwise drop them silently).
const HELPERS = `(function (stringify, toText) {
  function text(value) {
    try { return typeof value === 'string' ? value : toText(value); } catch (e) { return '?'; }
  }
  function describe(error) {
    try {
      if ((typeof error === 'object' && error !== null) || typeof error === 'function') {
        var message = typeof error.message === 'string' ? error.message : text(error);
        var stack = typeof error.stack === 'string' ? error.stack : '';
        return stringify([typeof error.name === 'string' ? error.name : '', message, stack, false]);
      }
      return stringify(['', text(error), '', error === null]);
    } catch (e) {
      return stringify(['', '?', '', false]);
    }
  }
  function replacer(key, value) {
    var type = typeof value;
    if (type === 'function' || type === 'symbol') {
      throw new TypeError(key === '' ? 'the returned value is a ' + type
        : 'the property "' + key + '" holds a ' + type);
    }
    return value;
  }
  return [describe, replacer];
})(JSON.stringify, String)`;

const requireHere = createRequire(import.meta.url);
const requireFromQuickJS = createRequire(requireHere.resolve('quickjs-emscripten'));
const wasmModule = await WebAssembly.compile(
  readFileSync(requireFromQuickJS.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')),
);
const silent = () => {};

/**
 * A QuickJS module over its own fixed-maximum memory; reused across runs while healthy. QuickJS's
 * own memory limit cannot be the real bound: built for wasm it counts 8 bytes per allocation
 * whatever its size (quickjs-emscripten issue #271), so it only refuses single oversized blocks.
 * The hard bound is the maximum of the linear memory; `tracker.refused` records that it was hit
 * (Emscripten first asks for some headroom, so a refusal can also mean the heap is close to it).
 */
async function instantiate(pages) {
  const memory = new WebAssembly.Memory({ initial: MIN_PAGES, maximum: pages });
  const grow = memory.grow;
  const tracker = { refused: false };
  // Emscripten grows the heap through this method of the memory it was given.
  memory.grow = function (delta) {
    try {
      return grow.call(this, delta);
    } catch (error) {
      tracker.refused = true;
      throw error;
    }
  };
  const variant = newVariant(RELEASE_SYNC, {
    wasmModule,
    wasmMemory: memory,
    emscriptenModule: { print: silent, printErr: silent },
  });
  const quickjs = await newQuickJSWASMModuleFromVariant(variant);
  return { quickjs, memory, tracker };
}

// Finds where the heap starts (the memory limit is counted from there; `module` is not public
// API, hence the fallback), and runs one job so the first real one does not pay for warm-up.
async function startUp() {
  const { quickjs, tracker } = await instantiate(MIN_PAGES);
  let heapBase = FALLBACK_HEAP_BASE;
  try {
    const emscripten = quickjs.module;
    const pointer = emscripten._malloc(1);
    emscripten._free(pointer);
    if (Number.isInteger(pointer) && pointer > 0) heapBase = pointer;
  } catch {
    // keep the fallback
  }
  const warmUp = { code: 'return input', inputJson: '{}', timeoutMs: 1000, maxOutputBytes: 100 };
  execute(quickjs, tracker, { ...warmUp, memoryLimitBytes: MIN_PAGES * PAGE_BYTES - heapBase });
  return heapBase;
}

function pagesFor(memoryLimitBytes) {
  const pages = Math.ceil((heapBase + memoryLimitBytes) / PAGE_BYTES);
  return Math.min(MAX_PAGES, Math.max(MIN_PAGES, pages));
}

/** @type {{ pages: number, ready: Promise<Awaited<ReturnType<typeof instantiate>>> } | null} */
let instance = null;

function instanceFor(pages) {
  if (!instance || instance.pages !== pages) instance = { pages, ready: instantiate(pages) };
  return instance;
}

function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

function locate(stack) {
  const match = new RegExp(`${FILENAME.replace('.', '\\.')}:(\\d+):(\\d+)`).exec(stack);
  if (!match) return {};
  const line = Number(match[1]);
  const column = Number(match[2]);
  return { line, column: line === 1 ? Math.max(1, column - PREFIX.length) : column };
}

/** Runs one job synchronously; `healthy: false` means the instance must not be used again. */
function execute(quickjs, tracker, job) {
  const handles = [];
  const keep = (handle) => {
    handles.push(handle);
    return handle;
  };
  const state = { interrupted: false };
  tracker.refused = false;
  let runtime;
  let vm;
  let describe;

  // Classifies a guest exception handle (which it takes ownership of).
  const fail = (handle, phase) => {
    keep(handle);
    if (state.interrupted) return { kind: 'timeout' };
    let info = null;
    if (describe) {
      const described = vm.callFunction(describe, vm.undefined, handle);
      if (described.error) {
        keep(described.error);
      } else {
        const text = keep(described.value);
        if (vm.typeof(text) === 'string') info = JSON.parse(vm.getString(text));
      }
    }
    if (state.interrupted) return { kind: 'timeout' };
    if (info === null) {
      if (tracker.refused) return { kind: 'memory' };
      return { kind: 'internal', message: 'the error raised by the code could not be read' };
    }
    const [name, message, stack, isNull] = info;
    if (name === 'InternalError' && message === 'out of memory') return { kind: 'memory' };
    if (isNull && tracker.refused) return { kind: 'memory' };
    if (phase === 'setup' || phase === 'input') {
      return { kind: 'internal', message: `the sandbox could not prepare the run: ${message}` };
    }
    if (phase === 'output') return { kind: 'output-invalid', message };
    const syntax = phase === 'compile' && name === 'SyntaxError';
    return { kind: 'error', name, message, syntax, ...locate(stack) };
  };

  const run = () => {
    runtime = quickjs.newRuntime();
    runtime.setMemoryLimit(job.memoryLimitBytes);
    runtime.setMaxStackSize(MAX_STACK_BYTES);
    // Set just before the user's code is compiled: setup is not the code's time. The main
    // thread's backstop (timeout plus a grace) counts from dispatch, so covers setup too.
    let deadline = Number.POSITIVE_INFINITY;
    runtime.setInterruptHandler(() => {
      if (performance.now() < deadline) return false;
      state.interrupted = true;
      return true;
    });
    vm = runtime.newContext();

    const json = keep(vm.getProp(vm.global, 'JSON'));
    const parse = keep(vm.getProp(json, 'parse'));
    const stringify = keep(vm.getProp(json, 'stringify'));
    const helpers = vm.evalCode(HELPERS, 'vigil-helpers.js', { type: 'global' });
    if (helpers.error) return fail(helpers.error, 'setup');
    const pair = keep(helpers.value);
    describe = keep(vm.getProp(pair, 0));
    const replacer = keep(vm.getProp(pair, 1));

    const parsed = vm.callFunction(parse, json, keep(vm.newString(job.inputJson)));
    if (parsed.error) return fail(parsed.error, 'input');
    const input = keep(parsed.value);

    const source = `${PREFIX}${job.code}${SUFFIX}`;
    deadline = performance.now() + job.timeoutMs;
    const compiled = vm.evalCode(source, FILENAME, { type: 'global' });
    if (compiled.error) return fail(compiled.error, 'compile');
    const fn = keep(compiled.value);

    const called = vm.callFunction(fn, vm.undefined, input);
    if (called.error) return fail(called.error, 'run');
    const promise = keep(called.value);
    const jobs = runtime.executePendingJobs(-1);
    if (jobs.error) return fail(jobs.error, 'run');

    const settled = vm.getPromiseState(promise);
    if (settled.type === 'pending') return { kind: 'pending' };
    if (settled.type === 'rejected') return fail(settled.error, 'run');
    const value = settled.value === promise ? promise : keep(settled.value);

    if (vm.typeof(value) === 'undefined') return { kind: 'ok', json: 'null' };
    const serialised = vm.callFunction(stringify, json, value, replacer);
    if (serialised.error) return fail(serialised.error, 'output');
    const text = keep(serialised.value);
    if (vm.typeof(text) !== 'string') {
      return { kind: 'output-invalid', message: 'it has no JSON representation' };
    }
    // A string's UTF-8 size is at least its length, so oversized output is refused uncopied.
    const length = vm.getLength(text) ?? 0;
    if (length > job.maxOutputBytes) {
      return { kind: 'output-too-large', bytes: length, atLeast: true };
    }
    const out = vm.getString(text);
    const bytes = Buffer.byteLength(out, 'utf8');
    if (bytes > job.maxOutputBytes) return { kind: 'output-too-large', bytes, atLeast: false };
    return { kind: 'ok', json: out };
  };

  let result;
  let healthy = true;
  try {
    result = run();
  } catch (error) {
    // A failure of the host side or the wasm itself (a trap, the native stack): drop the instance.
    healthy = false;
    if (state.interrupted) result = { kind: 'timeout' };
    else if (tracker.refused) result = { kind: 'memory' };
    else result = { kind: 'internal', message: messageOf(error) };
  }
  if (healthy) {
    try {
      for (const handle of handles.reverse()) if (handle.alive) handle.dispose();
      vm?.dispose();
      runtime?.dispose();
    } catch {
      healthy = false;
    }
  }
  if (result.kind === 'timeout' || result.kind === 'memory') healthy = false;
  return { result, healthy };
}

async function handle(job) {
  const slot = instanceFor(pagesFor(job.memoryLimitBytes));
  let result;
  try {
    const { quickjs, memory, tracker } = await slot.ready;
    const outcome = execute(quickjs, tracker, job);
    result = outcome.result;
    if (!outcome.healthy || memory.buffer.byteLength > KEEP_INSTANCE_BELOW_BYTES) {
      if (instance === slot) instance = null;
    }
  } catch (error) {
    if (instance === slot) instance = null;
    result = { kind: 'internal', message: messageOf(error) };
  }
  parentPort.postMessage({ type: 'result', id: job.id, ...result });
  // Prepare the next instance now rather than on the next job's clock.
  instanceFor(slot.pages).ready.catch(silent);
}

const heapBase = await startUp();
let queue = Promise.resolve();
parentPort.on('message', (job) => {
  queue = queue.then(() => handle(job));
});
parentPort.postMessage({ type: 'ready' });
