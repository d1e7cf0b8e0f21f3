import type pg from 'pg';
import type { ApiContext } from '../api/context.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { RunWriter } from '../runs/run-writer.ts';
import { RunLauncher } from '../triggers/launch-run.ts';
import { WebhookTargets } from '../triggers/webhook-targets.ts';
import { RunWorker } from './run-worker.ts';
import { createCodeSandbox } from './sandbox/code-sandbox.ts';
import { WorkflowCache } from './workflow-cache.ts';

export interface EngineRuntime {
  api: ApiContext;
  worker: RunWorker;
  stop(): Promise<void>;
}

/**
 * The run-executing half of a Vigil process: sandbox, workflow cache, worker, launcher, wired together.
 * `vigil start` and the tests build it the same way.
 */
export function createEngineRuntime(options: {
  config: Config;
  pool: pg.Pool;
  databaseUrl: string;
  logger: Logger;
  pollIntervalMs?: number;
}): EngineRuntime {
  const { config, pool, logger } = options;
  const sandbox = createCodeSandbox();
  const workflows = new WorkflowCache(pool);
  const writer = new RunWriter(pool);
  const services = { sandbox, limits: { maxPayloadBytes: config.maxPayloadBytes } };
  const worker = new RunWorker({
    pool,
    writer,
    databaseUrl: options.databaseUrl,
    logger,
    services,
    workflows,
    leaseSeconds: config.leaseSeconds,
    concurrency: config.workerConcurrency,
    runTimeoutMs: config.runTimeoutSeconds * 1000,
    maxPayloadBytes: config.maxPayloadBytes,
    pollIntervalMs: options.pollIntervalMs,
  });
  const launcher = new RunLauncher({
    pool,
    writer,
    worker,
    workflows,
    maxPayloadBytes: config.maxPayloadBytes,
    leaseSeconds: config.leaseSeconds,
    execute: {
      logger,
      services,
      maxPayloadBytes: config.maxPayloadBytes,
      runTimeoutMs: config.runTimeoutSeconds * 1000,
    },
  });
  const publicUrl = (config.publicUrl ?? `http://${config.host}:${config.port}`).replace(
    /\/+$/,
    '',
  );
  worker.start();
  return {
    worker,
    api: {
      pool,
      logger,
      worker,
      launcher,
      workflows,
      webhookTargets: new WebhookTargets(pool),
      publicUrl,
      maxPayloadBytes: config.maxPayloadBytes,
      maxWaitSeconds: 60,
    },
    async stop() {
      await worker.stop();
      await sandbox.close();
    },
  };
}
