import type pg from 'pg';
import type { RunWorker } from '../engine/run-worker.ts';
import type { WorkflowCache } from '../engine/workflow-cache.ts';
import type { Logger } from '../observability/logger.ts';
import type { RunLauncher } from '../triggers/launch-run.ts';
import type { WebhookTargets } from '../triggers/webhook-targets.ts';

/** What the HTTP routes use; built once by `vigil start` (or by a test). */
export interface ApiContext {
  pool: pg.Pool;
  logger: Logger;
  worker: RunWorker;
  launcher: RunLauncher;
  workflows: WorkflowCache;
  webhookTargets: WebhookTargets;
  /** Base of the URLs handed out (webhooks), without a trailing slash. */
  publicUrl: string;
  maxPayloadBytes: number;
  /** Longest `?wait=` a client may ask for, in seconds. */
  maxWaitSeconds: number;
}
