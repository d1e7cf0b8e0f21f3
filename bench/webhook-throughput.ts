/**
 * Webhook -> transform -> finished run (and webhook -> code, the general path), on one
 * `vigil start` process with its embedded PostgreSQL (fsync and synchronous_commit on: the
 * defaults). Prints sustained finished runs per second, p50/p99 of `?wait` calls at 10 and 50
 * concurrent clients, commits per run, and CPU seconds per process group.
 *
 *   npm run bench                      # Vigil only
 *   npm run bench -- --n8n             # and n8n 1.94 on the same workflow shape, in the same run
 *   BENCH_SECONDS=20 npm run bench     # longer windows (default 15 s per client count)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { cpuSeconds } from './lib/cpu.ts';
import { type LoadResult, runLoad } from './lib/load.ts';
import { freePort } from './lib/net.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CLIENT_COUNTS = [10, 50];
const WARMUP_SECONDS = 3;

interface Row {
  system: string;
  clients: number;
  result: LoadResult;
  commitsPerRun?: number;
  cpu: Record<string, number>;
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

async function benchVigil(): Promise<Row[]> {
  const home = await mkdtemp(join(tmpdir(), 'vigil-bench-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_HOME: home, VIGIL_PORT: String(port) };
  env.LOG_LEVEL = 'warn';
  delete env.DATABASE_URL;
  const bin = new URL('../bin/vigil.mjs', import.meta.url).pathname;
  const vigil = spawn(process.execPath, [bin, 'start'], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const origin = `http://127.0.0.1:${port}`;
  const rows: Row[] = [];
  try {
    await waitReady(`${origin}/readyz`, 60_000);
    const key = await new Promise<string>((resolve, reject) => {
      const cli = spawn(
        process.execPath,
        [bin, 'keys', 'create', '--org', 'default', '--name', 'bench'],
        {
          env,
        },
      );
      let out = '';
      cli.stdout.on('data', (chunk) => {
        out += chunk;
      });
      cli.on('close', (code) =>
        code === 0 ? resolve(out.trim()) : reject(new Error('keys create failed')),
      );
    });
    const createWorkflow = async (step: unknown) => {
      const created = (await fetch(`${origin}/api/workflows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'bench',
          definition: {
            nodes: [
              { id: 'hook', type: 'webhook', position: { x: 0, y: 0 }, data: { config: {} } },
              step,
            ],
            edges: [{ source: 'hook', target: 'double' }],
          },
        }),
      }).then((r) => r.json())) as { webhookUrl: string };
      return `${new URL(created.webhookUrl).pathname}?wait=5`;
    };
    // The shape: webhook -> transform. Transform is pure, so the run executes in memory and is
    // recorded finished in one (batched) statement.
    const path = await createWorkflow({
      id: 'double',
      type: 'transform',
      position: { x: 0, y: 100 },
      data: { config: { fields: { amount: '{{trigger.body.amount}}', seen: true } } },
    });
    // The general path, for comparison: a code step (QuickJS in a worker thread) is not pure, so the
    // run is inserted leased, executed, and finalized: two commits, each shared with other runs.
    const codePath = await createWorkflow({
      id: 'double',
      type: 'code',
      position: { x: 0, y: 100 },
      data: { config: { code: 'return { amount: input.trigger.body.amount, seen: true };' } },
    });
    const { default: state } = await import(join(home, 'embedded.json'), {
      with: { type: 'json' },
    });
    const db = new pg.Client(
      `postgres://${state.user}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/vigil`,
    );
    await db.connect();
    const commits = async () =>
      Number(
        (await db.query("select xact_commit from pg_stat_database where datname = 'vigil'")).rows[0]
          .xact_commit,
      );
    const finished = async () =>
      Number(
        (
          await db.query(
            "select count(*) from workflow_executions where status <> 'queued' and status <> 'running'",
          )
        ).rows[0].count,
      );
    const check = (status: number, body: string) =>
      status === 200 && body.includes('"status":"success"')
        ? undefined
        : `${status} ${body.slice(0, 120)}`;
    const body = (seq: number) => JSON.stringify({ amount: seq });

    await runLoad({ origin, path, body, clients: 10, durationMs: WARMUP_SECONDS * 1000, check });
    const shapes = [
      ...CLIENT_COUNTS.map((clients) => ({ system: 'vigil', path, clients })),
      { system: 'vigil code', path: codePath, clients: 10 },
    ];
    await runLoad({ origin, path: codePath, body, clients: 10, durationMs: 1_000, check });
    for (const { system, path, clients } of shapes) {
      const cpuBefore = groupCpu(vigil.pid ?? 0);
      const [c0, f0] = [await commits(), await finished()];
      const result = await runLoad({
        origin,
        path,
        body,
        clients,
        durationMs: SECONDS * 1000,
        check,
      });
      // pg_stat counters are flushed by backends at most once a second.
      await new Promise((r) => setTimeout(r, 1_200));
      const [c1, f1] = [await commits(), await finished()];
      const cpuAfter = groupCpu(vigil.pid ?? 0);
      rows.push({
        system,
        clients,
        result,
        // Our own two stat queries commit too; subtract them.
        commitsPerRun: (c1 - c0 - 3) / Math.max(1, f1 - f0),
        cpu: Object.fromEntries(
          Object.entries(cpuAfter).map(([k, v]) => [
            k,
            round((v - (cpuBefore[k] ?? 0)) / (result.durationMs / 1000)),
          ]),
        ),
      });
    }
    await db.end();
  } finally {
    vigil.kill('SIGTERM');
    await new Promise((r) => vigil.once('exit', r));
    await rm(home, { recursive: true, force: true });
  }
  return rows;
}

/** CPU used per process group, in cores (CPU seconds per wall second) once divided by the window. */
function groupCpu(vigilPid: number): Record<string, number> {
  return {
    vigilNode: cpuSeconds((_, pid) => pid === vigilPid),
    postgres:
      cpuSeconds((cmd) => cmd.includes('postgres') && cmd.includes('vigil-bench-')) +
      cpuSeconds((cmd) => cmd.startsWith('postgres:')),
    loadGenerator: cpuSeconds((_, pid) => pid === process.pid),
  };
}

async function benchN8n(): Promise<Row[]> {
  const { startN8n } = await import('./n8n/n8n.ts');
  const port = await freePort();
  const n8n = await startN8n({ port });
  const rows: Row[] = [];
  try {
    const url = new URL(n8n.webhookUrl);
    const check = (status: number, body: string) =>
      status === 200 ? undefined : `${status} ${body.slice(0, 120)}`;
    const body = (seq: number) => JSON.stringify({ amount: seq });
    await runLoad({
      origin: url.origin,
      path: url.pathname,
      body,
      clients: 10,
      durationMs: WARMUP_SECONDS * 1000,
      check,
    });
    for (const clients of CLIENT_COUNTS) {
      const result = await runLoad({
        origin: url.origin,
        path: url.pathname,
        body,
        clients,
        durationMs: SECONDS * 1000,
        check,
      });
      rows.push({ system: `n8n ${n8n.version}`, clients, result, cpu: {} });
    }
  } finally {
    await n8n.stop();
  }
  return rows;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

const rows = await benchVigil();
if (process.argv.includes('--n8n')) rows.push(...(await benchN8n()));

console.log(
  `\nwebhook -> transform -> finished run, ?wait, ${SECONDS} s per row, ${new Date().toISOString()}`,
);
console.log(
  'system      clients  runs/s    p50 ms   p99 ms   max ms  failures  commits/run  cpu (cores)',
);
for (const row of rows) {
  const r = row.result;
  const cpu = Object.entries(row.cpu)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `${row.system.padEnd(11)} ${String(row.clients).padStart(7)} ${String(r.perSecond).padStart(7)} ${String(r.p50Ms).padStart(9)} ${String(r.p99Ms).padStart(8)} ${String(r.maxMs).padStart(8)} ${String(r.failures).padStart(9)} ${(row.commitsPerRun === undefined ? '-' : row.commitsPerRun.toFixed(2)).padStart(12)}  ${cpu}`,
  );
  if (r.failureSamples.length > 0) console.log(`  failures: ${r.failureSamples.join(' | ')}`);
}
