/**
 * The order of an HTTP fallback session's uplink (docs/protocol.md §11). The
 * client numbers its batches 1, 2, 3 … (the body of the request that opened
 * the session is batch 0) and sends one at a time, but they may still reach
 * the session out of order — one relayed through the broker from another
 * process, the next straight from the client — or twice, when the client
 * retried a request whose answer it did not get. Batches are released in
 * their order, each once. A batch that waits for a missing one longer than
 * `gapTimeout`, or too many waiting batches, mean the uplink is broken.
 */

/** Batches that may wait for a missing one before the uplink counts as broken. */
export const MAX_WAITING_BATCHES = 32;

export class UplinkOrder<T> {
  private next = 1;
  private readonly waiting = new Map<number, T>();
  private timer: NodeJS.Timeout | null = null;

  /** `broken` is called (once) when the order cannot be restored. */
  constructor(
    private readonly gapTimeout: number,
    private readonly broken: (reason: string) => void,
  ) {}

  /** The number the next batch in order has. */
  get expected(): number {
    return this.next;
  }

  /** Takes batch `seq`; returns the batches now due, in order (none for a repeat or an early one). */
  accept(seq: number, batch: T): T[] {
    if (seq < this.next || this.waiting.has(seq)) return [];
    if (seq > this.next) {
      this.wait(seq, batch);
      return [];
    }
    const due = [batch];
    this.next++;
    for (let waiting = this.waiting.get(this.next); waiting !== undefined; waiting = this.waiting.get(this.next)) {
      this.waiting.delete(this.next++);
      due.push(waiting);
    }
    this.clearTimer();
    if (this.waiting.size > 0) this.armTimer();
    return due;
  }

  /** Stops the gap timer. */
  stop(): void {
    this.clearTimer();
    this.waiting.clear();
  }

  private wait(seq: number, batch: T): void {
    if (this.waiting.size >= MAX_WAITING_BATCHES) {
      this.stop();
      this.broken('too many uplink requests out of order');
      return;
    }
    this.waiting.set(seq, batch);
    if (this.timer === null) this.armTimer();
  }

  private armTimer(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.waiting.size === 0) return;
      this.stop();
      this.broken(`uplink request ${this.next} missing`);
    }, this.gapTimeout);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
