/**
 * Smoke test of the n8n side of the benchmark: `npx tsx bench/n8n/smoke.ts`.
 * Starts n8n on a free loopback port, sends a few requests, then 10 concurrent clients for 10 s
 * (after a 2 s warm-up), prints runs/s, p50 and p99, and stops n8n. Traffic goes to 127.0.0.1 only.
 * Arguments KEY=VALUE override n8n's environment, for experiments (the benchmark uses none).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Pool } from 'undici';
import { freePort } from '../lib/net.ts';
import { type N8nInstance, startN8n } from './n8n.ts';

const CLIENTS = 10;
const WARMUP_MS = 2_000;
const DURATION_MS = 10_000;
const MAX_REQUESTS_PER_CLIENT = 100_000;

/** Linux CPU counters, in clock ticks (USER_HZ, 100 on Linux); undefined elsewhere. */
function cpuTicks(
  pid: number | undefined,
): { busy: number; total: number; proc: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    let proc = Number.NaN;
    if (pid !== undefined) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      proc = Number(after[11]) + Number(after[12]);
    }
    return { busy: total - idle, total, proc };
  } catch {
    return undefined;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

interface LoadResult {
  latencies: number[];
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

async function load(url: URL, pool: Pool, durationMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const end = started + durationMs;
  const client = async (index: number): Promise<void> => {
    for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && performance.now() < end; i++) {
      const amount = index * 1_000_000 + i;
      const t0 = performance.now();
      try {
        const res = await pool.request({
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ amount }),
        });
        const body = await res.body.text();
        const ms = performance.now() - t0;
        const doubled = res.statusCode === 200 ? (JSON.parse(body) as { doubled?: unknown }) : {};
        if (doubled.doubled === amount * 2) {
          latencies.push(ms);
        } else {
          errors++;
          firstError ??= `HTTP ${res.statusCode}: ${body.slice(0, 200)}`;
        }
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  return { latencies, errors, firstError, elapsedMs: performance.now() - started };
}

async function main(): Promise<void> {
  const port = await freePort();
  const verbose = process.env.N8N_SMOKE_VERBOSE === '1';
  const t0 = performance.now();
  let n8n: N8nInstance | undefined;
  const onSignal = (): void => {
    void (n8n?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Experiments only: `npx tsx bench/n8n/smoke.ts DB_SQLITE_POOL_SIZE=0` overrides n8n settings.
  const env = Object.fromEntries(
    process.argv.slice(2).map((arg) => {
      const eq = arg.indexOf('=');
      if (eq <= 0) throw new Error(`expected KEY=VALUE, got ${arg}`);
      return [arg.slice(0, eq), arg.slice(eq + 1)];
    }),
  );
  if (Object.keys(env).length > 0) console.log(`n8n env overrides: ${JSON.stringify(env)}`);
  n8n = await startN8n({
    port,
    env,
    log: (line) => {
      if (verbose || !line.startsWith('[n8n')) console.log(line);
    },
  });
  console.log(
    `n8n ${n8n.version} up at ${n8n.webhookUrl} ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s including any install)`,
  );

  const url = new URL(n8n.webhookUrl);
  const pool = new Pool(url.origin, {
    connections: CLIENTS,
    pipelining: 1,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  try {
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const res = await fetch(n8n.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 21 }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      const ms = (performance.now() - start).toFixed(1);
      console.log(`POST {"amount":21} -> ${res.status} ${text} in ${ms} ms`);
    }

    console.log(`warm-up: ${CLIENTS} clients for ${WARMUP_MS / 1000} s (not measured)`);
    await load(url, pool, WARMUP_MS);
    console.log(`load: ${CLIENTS} clients for ${DURATION_MS / 1000} s`);
    const cpuBefore = cpuTicks(n8n.pid);
    const selfBefore = process.cpuUsage();
    const result = await load(url, pool, DURATION_MS);
    const cpuAfter = cpuTicks(n8n.pid);
    const self = process.cpuUsage(selfBefore);
    const sorted = [...result.latencies].sort((a, b) => a - b);
    const seconds = result.elapsedMs / 1000;
    const ms = (value: number | undefined): string => `${(value ?? Number.NaN).toFixed(1)} ms`;
    console.log(
      `runs: ${sorted.length} ok, ${result.errors} failed in ${seconds.toFixed(2)} s` +
        ` -> ${(sorted.length / seconds).toFixed(1)} runs/s;` +
        ` p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))},` +
        ` max ${ms(sorted.at(-1))}`,
    );
    if (result.firstError) console.log(`first failure: ${result.firstError}`);
    if (cpuBefore && cpuAfter) {
      // Shares of one core over the load window; the machine has cpus().length cores.
      const cores = cpus().length;
      const span = (cpuAfter.total - cpuBefore.total) / cores;
      const pct = (ticks: number): string => `${((100 * ticks) / span).toFixed(0)}%`;
      const machine = cpuAfter.busy - cpuBefore.busy;
      const n8nTicks = cpuAfter.proc - cpuBefore.proc;
      const selfTicks = ((self.user + self.system) / 1e6) * 100;
      console.log(
        `cpu (100% = one core, ${cores} cores): n8n ${pct(n8nTicks)}, load generator` +
          ` ${pct(selfTicks)}, everything else ${pct(machine - n8nTicks - selfTicks)}`,
      );
    }
  } finally {
    await pool.close();
    const stopStart = performance.now();
    await n8n.stop();
    console.log(`n8n stopped in ${((performance.now() - stopStart) / 1000).toFixed(1)} s`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
