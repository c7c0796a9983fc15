/**
 * The order of an HTTP fallback session's uplink (docs/protocol.md §11). The
 * client numbers its batches 1, 2, 3 … (the body of the request that opened
 * the session is batch 0) and sends one at a time, but they may still reach
 * the session out of order — one relayed through the broker from another
 * process, the next straight from the client — or twice, when the client
 * retried a request whose answer it did not get. Batches are released in
 * their order, each once. A batch that waits for a missing one longer than
 * `gapTimeout`, or too many waiting batches, mean the uplink is broken.
 * The bytes of the waiting batches are counted (`waitingBytes`), so that the
 * session can hold them to its uplink window.
 */

/** Batches that may wait for a missing one before the uplink counts as broken. */
export const MAX_WAITING_BATCHES = 32;

export class UplinkOrder<T> {
  private next = 1;
  private readonly waiting = new Map<number, { batch: T; bytes: number }>();
  private waitingBytesValue = 0;
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

  /** Bytes of the batches waiting for a missing one. */
  get waitingBytes(): number {
    return this.waitingBytesValue;
  }

  /** True when batch `seq` was released or is waiting already (a repeat: it is ignored). */
  isRepeat(seq: number): boolean {
    return seq < this.next || this.waiting.has(seq);
  }

  /** Takes batch `seq` of `bytes` bytes; returns the batches now due, in order (none for a repeat or an early one). */
  accept(seq: number, batch: T, bytes = 0): T[] {
    if (this.isRepeat(seq)) return [];
    if (seq > this.next) {
      this.wait(seq, batch, bytes);
      return [];
    }
    const due = [batch];
    this.next++;
    for (let waiting = this.waiting.get(this.next); waiting !== undefined; waiting = this.waiting.get(this.next)) {
      this.waiting.delete(this.next++);
      this.waitingBytesValue -= waiting.bytes;
      due.push(waiting.batch);
    }
    this.clearTimer();
    if (this.waiting.size > 0) this.armTimer();
    return due;
  }

  /** Stops the gap timer. */
  stop(): void {
    this.clearTimer();
    this.waiting.clear();
    this.waitingBytesValue = 0;
  }

  private wait(seq: number, batch: T, bytes: number): void {
    if (this.waiting.size >= MAX_WAITING_BATCHES) {
      this.stop();
      this.broken('too many uplink requests out of order');
      return;
    }
    this.waiting.set(seq, { batch, bytes });
    this.waitingBytesValue += bytes;
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
