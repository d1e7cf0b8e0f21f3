/**
 * The n8n side of Vigil's webhook -> transform -> finished run benchmark.
 *
 * Installs n8n (once, cached outside the repository) and starts it with one workflow:
 * Webhook (POST, responds when the last node finishes, with that node's output) -> Edit Fields
 * (Set) computing `doubled = body.amount * 2`. See bench/n8n/README.md for the exact setup.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Newest 1.94 patch on the npm registry (`npm view n8n@1.94 version` -> 1.94.1). */
export const N8N_VERSION = '1.94.1';

/** The webhook's path: the production URL is http://127.0.0.1:<port>/webhook/<path>. */
export const N8N_WEBHOOK_PATH = 'vigil-bench';

const WORKFLOW_ID = 'vigilBench000001';
const READY_TIMEOUT_MS = 120_000;
const CLI_TIMEOUT_MS = 120_000;
const INSTALL_TIMEOUT_MS = 30 * 60_000;
const STOP_GRACE_MS = 15_000;
const INSTALLED_MARKER = '.vigil-installed';

export interface N8nInstance {
  webhookUrl: string;
  version: string;
  stop(): Promise<void>;
  /** The n8n server's process id (for CPU accounting), when it is running. */
  pid?: number;
}

export interface StartN8nOptions {
  port: number;
  /** Defaults to $VIGIL_BENCH_CACHE, else <os tmpdir>/vigil-bench-cache. */
  cacheDir?: string;
  log?: (line: string) => void;
  /** Extra environment for n8n, for experiments only; the benchmark uses none. */
  env?: Record<string, string>;
}

export function defaultCacheDir(): string {
  return process.env.VIGIL_BENCH_CACHE ?? join(os.tmpdir(), 'vigil-bench-cache');
}

/** The workflow imported into n8n, as n8n's own export format. */
export function n8nWorkflow(): Record<string, unknown> {
  return {
    id: WORKFLOW_ID,
    name: 'vigil-bench webhook transform',
    // import:workflow deactivates every imported workflow; it is activated with update:workflow.
    active: false,
    nodes: [
      {
        id: '7c0a5f7e-0d1e-4a51-9a57-3f6f2b1c0001',
        name: 'Webhook',
        type: 'n8n-nodes-base.webhook',
        typeVersion: 2,
        position: [0, 0],
        webhookId: '7c0a5f7e-0d1e-4a51-9a57-3f6f2b1c00aa',
        parameters: {
          httpMethod: 'POST',
          path: N8N_WEBHOOK_PATH,
          // "When Last Node Finishes", answering with the first item's JSON.
          responseMode: 'lastNode',
          responseData: 'firstEntryJson',
          options: {},
        },
      },
      {
        id: '7c0a5f7e-0d1e-4a51-9a57-3f6f2b1c0002',
        name: 'Edit Fields',
        type: 'n8n-nodes-base.set',
        typeVersion: 3.4,
        position: [220, 0],
        parameters: {
          mode: 'manual',
          assignments: {
            assignments: [
              {
                id: '7c0a5f7e-0d1e-4a51-9a57-3f6f2b1c0003',
                name: 'doubled',
                type: 'number',
                value: '={{ $json.body.amount * 2 }}',
              },
            ],
          },
          includeOtherFields: false,
          options: {},
        },
      },
    ],
    connections: {
      Webhook: { main: [[{ node: 'Edit Fields', type: 'main', index: 0 }]] },
    },
    settings: { executionOrder: 'v1' },
    pinData: {},
  };
}

/**
 * The n8n settings of the benchmark, apart from N8N_USER_FOLDER. Execution saving is left at
 * n8n's defaults (every run saved, with its data), like Vigil records every run and step.
 */
export function n8nBenchEnv(port: number): Record<string, string> {
  return {
    N8N_PORT: String(port),
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    N8N_HOST: '127.0.0.1',
    N8N_PROTOCOL: 'http',
    N8N_SECURE_COOKIE: 'false',
    DB_TYPE: 'sqlite',
    // WAL mode with 2 read connections: n8n's recommended SQLite setting (0, the 1.94 default,
    // means rollback-journal mode; later n8n versions made a pool of 2 the default).
    DB_SQLITE_POOL_SIZE: '2',
    EXECUTIONS_MODE: 'regular',
    EXECUTIONS_DATA_SAVE_ON_SUCCESS: 'all',
    EXECUTIONS_DATA_SAVE_ON_ERROR: 'all',
    // 1.94's default: task runners are off (they only matter for Code nodes).
    N8N_RUNNERS_ENABLED: 'false',
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_HIRING_BANNER_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_COMMUNITY_PACKAGES_ENABLED: 'false',
    N8N_VERIFIED_PACKAGES_ENABLED: 'false',
    N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
    // Anything that still tries n8n's servers hits a closed local port instead.
    N8N_LICENSE_SERVER_URL: 'http://127.0.0.1:9/v1',
    N8N_TEMPLATES_HOST: 'http://127.0.0.1:9/api/',
    N8N_VERSION_NOTIFICATIONS_ENDPOINT: 'http://127.0.0.1:9/api/versions/',
    N8N_DIAGNOSTICS_POSTHOG_API_HOST: 'http://127.0.0.1:9',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
    N8N_LOG_LEVEL: 'info',
    N8N_LOG_OUTPUT: 'console',
  };
}

/** The parent's environment without anything that would configure npm or n8n behind our back. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const dropped = /^(npm_|n8n_|db_|executions_|queue_|generic_|webhook_url$|node_options$)/i;
  for (const [key, value] of Object.entries(process.env)) {
    if (!dropped.test(key)) env[key] = value;
  }
  return env;
}

function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      const line = part.trimEnd();
      if (line !== '') onLine(line);
    }
  };
}

interface RunResult {
  code: number | null;
  tail: string[];
}

/** Runs a command to completion, streaming its output as lines; bounded by timeoutMs. */
function run(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; onLine: (l: string) => void },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const tail: string[] = [];
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      opts.onLine(line);
    };
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', lineSplitter(onLine));
    child.stderr.on('data', lineSplitter(onLine));
    const timer = setTimeout(() => {
      onLine(`timed out after ${opts.timeoutMs} ms; killing`);
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, tail });
    });
  });
}

function n8nBin(installDir: string): string {
  return join(installDir, 'node_modules', 'n8n', 'bin', 'n8n');
}

/**
 * Installs n8n into <cacheDir>/n8n-<version> unless it is already there, and returns that folder.
 * npm 11 blocks dependency install scripts unless allowed: only sqlite3 (a native build) is
 * allowed; the other packages with install scripts are not needed here and stay denied.
 */
export async function installN8n(
  cacheDir: string = defaultCacheDir(),
  log: (line: string) => void = () => {},
): Promise<string> {
  const dir = join(cacheDir, `n8n-${N8N_VERSION}`);
  if (existsSync(n8nBin(dir)) && existsSync(join(dir, INSTALLED_MARKER))) return dir;
  await mkdir(dir, { recursive: true });
  const manifest = {
    name: 'vigil-bench-n8n',
    private: true,
    description: 'n8n for Vigil benchmarks (bench/n8n/n8n.ts); not part of the repository',
    dependencies: { n8n: N8N_VERSION },
    // n8n-nodes-base pins xlsx to a tarball on cdn.sheetjs.com, which is unreachable here; the
    // registry's last xlsx is used instead. Only the Spreadsheet File node uses it.
    overrides: { xlsx: '0.18.5' },
    allowScripts: {
      sqlite3: true,
      '@scarf/scarf': false,
      'cpu-features': false,
      'msgpackr-extract': false,
      protobufjs: false,
      ssh2: false,
    },
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`installing n8n@${N8N_VERSION} into ${dir} (several minutes the first time)`);
  const started = performance.now();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = await run(
    npm,
    ['install', '--prefix', dir, '--no-audit', '--no-fund', '--omit=dev', '--loglevel=warn'],
    {
      cwd: dir,
      env: baseEnv(),
      timeoutMs: INSTALL_TIMEOUT_MS,
      onLine: (line) => log(`[npm] ${line}`),
    },
  );
  if (result.code !== 0 || !existsSync(n8nBin(dir))) {
    throw new Error(
      `npm install of n8n@${N8N_VERSION} failed (exit ${result.code}):\n${result.tail.join('\n')}`,
    );
  }
  const sqliteBinding = join(
    dir,
    'node_modules',
    'sqlite3',
    'build',
    'Release',
    'node_sqlite3.node',
  );
  if (!existsSync(sqliteBinding)) {
    throw new Error(`n8n installed but sqlite3's native module was not built (${sqliteBinding})`);
  }
  await writeFile(join(dir, INSTALLED_MARKER), `${new Date().toISOString()}\n`);
  log(`installed n8n@${N8N_VERSION} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return dir;
}

async function runN8nCli(
  installDir: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  const result = await run(process.execPath, [n8nBin(installDir), ...args], {
    cwd: installDir,
    env,
    timeoutMs: CLI_TIMEOUT_MS,
    onLine: (line) => log(`[n8n ${args[0]}] ${line}`),
  });
  if (result.code !== 0) {
    throw new Error(
      `n8n ${args.join(' ')} failed (exit ${result.code}):\n${result.tail.join('\n')}`,
    );
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Installs n8n (once, cached) and starts it with the benchmark workflow. */
export async function startN8n(options: StartN8nOptions): Promise<N8nInstance> {
  const log = options.log ?? (() => {});
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const installDir = await installN8n(cacheDir, log);

  const began = performance.now();
  await mkdir(cacheDir, { recursive: true });
  const userFolder = await mkdtemp(join(cacheDir, 'n8n-run-'));
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    ...n8nBenchEnv(options.port),
    ...options.env,
    N8N_USER_FOLDER: userFolder,
  };
  const workflowFile = join(userFolder, 'workflow.json');
  await writeFile(workflowFile, `${JSON.stringify(n8nWorkflow(), null, 2)}\n`);

  let child: ChildProcess | undefined;
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', killOnExit);
      if (child) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        if (!(await waitForExit(child, STOP_GRACE_MS))) {
          log(`n8n did not exit ${STOP_GRACE_MS / 1000} s after SIGTERM; sending SIGKILL`);
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      await rm(userFolder, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };

  try {
    await runN8nCli(installDir, ['import:workflow', `--input=${workflowFile}`], env, log);
    await runN8nCli(
      installDir,
      ['update:workflow', `--id=${WORKFLOW_ID}`, '--active=true'],
      env,
      log,
    );

    const tail: string[] = [];
    const started = spawn(process.execPath, [n8nBin(installDir), 'start'], {
      cwd: installDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    process.on('exit', killOnExit);
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      log(`[n8n] ${line}`);
    };
    started.stdout?.on('data', lineSplitter(onLine));
    started.stderr?.on('data', lineSplitter(onLine));
    let spawnError: Error | undefined;
    started.on('error', (error) => {
      spawnError = error;
    });

    const webhookUrl = `http://127.0.0.1:${options.port}/webhook/${N8N_WEBHOOK_PATH}`;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastProblem = 'no answer yet';
    for (;;) {
      if (spawnError) throw spawnError;
      if (started.exitCode !== null || started.signalCode !== null) {
        throw new Error(
          `n8n exited early (${started.exitCode ?? started.signalCode}):\n${tail.join('\n')}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `n8n's webhook did not answer within ${READY_TIMEOUT_MS / 1000} s ` +
            `(${lastProblem}):\n${tail.join('\n')}`,
        );
      }
      try {
        // A real run: the one warm-up execution n8n records before the benchmark.
        const res = await fetch(webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ amount: 0 }),
          signal: AbortSignal.timeout(5_000),
        });
        const text = await res.text();
        // Checks the answer too, so another server on the port cannot pass for n8n.
        if (res.status === 200 && text.replace(/\s/g, '') === '{"doubled":0}') break;
        lastProblem = `HTTP ${res.status}: ${text.slice(0, 200)}`;
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      await sleep(250);
    }
    log(
      `n8n ${N8N_VERSION} ready at ${webhookUrl} after ` +
        `${((performance.now() - began) / 1000).toFixed(1)} s (import, activate, start)`,
    );
    return { webhookUrl, version: N8N_VERSION, stop, pid: started.pid };
  } catch (error) {
    await stop();
    throw error;
  }
}
