/**
 * Group commit in the application. Items submitted while a flush is in flight wait for the next flush and
 * go to PostgreSQL together, as one statement and one commit; an item submitted while the writer is idle
 * is flushed at once. So nothing waits for a timer, yet under load each round trip and each WAL flush
 * serves many runs. Every caller's promise settles only after its item is committed: durability is
 * unchanged, only the commits are shared.
 *
 * `flush` must be all-or-nothing (one statement). When a batch of several items fails, each item is tried
 * alone, so one bad item (a constraint it breaks) fails only its own caller.
 */
export interface BatcherOptions<I> {
  /** Most items in one statement. */
  maxItems: number;
  /** Most bytes (as measured by sizeOf) in one statement. */
  maxBytes: number;
  /** Flushes in flight at once; more than one lets PostgreSQL use more than one core. */
  concurrency: number;
  sizeOf: (item: I) => number;
}

interface Pending<I, O> {
  item: I;
  size: number;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class Batcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions<I>,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, size: this.options.sizeOf(item), resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const batch: Pending<I, O>[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && batch.length < this.options.maxItems) {
        const next = this.queue[0] as Pending<I, O>;
        if (batch.length > 0 && bytes + next.size > this.options.maxBytes) break;
        batch.push(next);
        bytes += next.size;
        this.queue.shift();
      }
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async run(batch: Pending<I, O>[]): Promise<void> {
    try {
      const results = await this.flush(batch.map((p) => p.item));
      for (const [index, p] of batch.entries()) p.resolve(results[index] as O);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      await Promise.all(
        batch.map(async (p) => {
          try {
            const [result] = await this.flush([p.item]);
            p.resolve(result as O);
          } catch (single) {
            p.reject(single);
          }
        }),
      );
    }
  }
}
