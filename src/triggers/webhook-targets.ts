import type pg from 'pg';
import { findWebhookTarget, type WebhookTarget } from '../workflows/store.ts';

/**
 * Webhook token -> workflow, cached for one second: the hot path of every webhook skips a query, and a
 * workflow saved in another process reaches this one's webhooks within that second. Saves made in this
 * process clear the cache at once.
 */
export class WebhookTargets {
  private readonly entries = new Map<
    string,
    { target: WebhookTarget | undefined; until: number }
  >();

  constructor(
    private readonly pool: pg.Pool,
    private readonly ttlMs = 1_000,
    private readonly maxEntries = 10_000,
  ) {}

  async get(token: string): Promise<WebhookTarget | undefined> {
    const now = Date.now();
    const hit = this.entries.get(token);
    if (hit && hit.until > now) return hit.target;
    const target = await findWebhookTarget(this.pool, token);
    this.entries.delete(token);
    this.entries.set(token, { target, until: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return target;
  }

  clear(): void {
    this.entries.clear();
  }
}
