import { RawHttpConnection } from './raw-http.ts';

export interface LoadResult {
  clients: number;
  durationMs: number;
  requests: number;
  failures: number;
  /** Finished requests per second over the measured window. */
  perSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The first few failure descriptions, for a person reading the report. */
  failureSamples: string[];
}

export interface LoadOptions {
  /** Base URL on 127.0.0.1 only; the load never leaves this machine. */
  origin: string;
  path: string;
  /** The request body, or a function of the request's sequence number (0, 1, 2, ...). */
  body: string | ((sequence: number) => string);
  clients: number;
  durationMs: number;
  /** Stops early after this many requests, whatever the time: loops are bounded twice. */
  maxRequests?: number;
  /** Checks each response; returns an error description, or undefined when it is right. */
  check?: (status: number, body: string) => string | undefined;
}

/**
 * A closed-loop load: `clients` keep-alive connections, each sending its next request when the previous
 * one answered, for `durationMs`. Latency is measured per request from send to full body.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.origin);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new Error(`load tests talk to 127.0.0.1 only, not ${url.hostname}`);
  }
  const host = url.host;
  const port = Number(url.port || 80);
  const latencies: number[] = [];
  const failureSamples: string[] = [];
  let failures = 0;
  let sent = 0;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  const started = performance.now();
  const deadline = started + options.durationMs;

  async function client(): Promise<void> {
    let connection = await RawHttpConnection.open(url.hostname, port);
    while (performance.now() < deadline && sent < maxRequests) {
      const sequence = sent++;
      const body = typeof options.body === 'string' ? options.body : options.body(sequence);
      const t0 = performance.now();
      try {
        const response = await connection.post(host, options.path, body);
        const problem = options.check?.(response.status, response.body);
        if (problem) throw new Error(problem);
        latencies.push(performance.now() - t0);
      } catch (error) {
        failures++;
        if (failureSamples.length < 5) failureSamples.push((error as Error).message);
        connection.close();
        connection = await RawHttpConnection.open(url.hostname, port);
      }
    }
    connection.close();
  }

  await Promise.all(Array.from({ length: options.clients }, client));
  const durationMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    clients: options.clients,
    durationMs: Math.round(durationMs),
    requests: latencies.length,
    failures,
    perSecond: Math.round((latencies.length / durationMs) * 1000),
    p50Ms: round(at(0.5)),
    p90Ms: round(at(0.9)),
    p99Ms: round(at(0.99)),
    maxMs: round(latencies.at(-1) ?? 0),
    failureSamples,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
