/**
 * A slow link, emulated on the sending side: the bytes a connection writes
 * are handed to its socket at most `bytesPerSecond` at a time, a slice every
 * `PACE_INTERVAL` ms; the rest waits here and counts in the connection's
 * `bufferedAmount`, so every policy built on it (the buffered-bytes limit,
 * a real-time server's conflation and slow-consumer handling) sees what it
 * would see over a slow network. For demos and tests of those policies: a
 * peer can always be this slow by reading slowly, so pacing gives it no
 * power it did not have — the queue is bounded by the connection's
 * `maxBufferedAmount` like any other.
 */
import type { Duplex } from 'node:stream';

/** Milliseconds between two slices. */
export const PACE_INTERVAL = 50;
/** Lowest rate accepted, in bytes per second. */
export const MIN_PACE_RATE = 1024;

export class WritePacer {
  private queue: Uint8Array[] = [];
  private head = 0;
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private last = 0;
  /**
   * Bytes that may be written now: the rate times the time since the last
   * slice, up to one second's worth (a timer that fires late, on a busy
   * process, catches up instead of slowing the link further); nothing is
   * saved up while the queue is empty.
   */
  private budget = 0;

  /**
   * `rate`: bytes per second, an integer of at least `MIN_PACE_RATE`.
   * `emptied` is called when the queue becomes empty after a slice.
   */
  constructor(
    private readonly socket: Duplex,
    readonly rate: number,
    private readonly emptied: () => void,
  ) {
    if (!Number.isInteger(rate) || rate < MIN_PACE_RATE) throw new RangeError(`a pace must be an integer of at least ${MIN_PACE_RATE} bytes per second, not ${rate}`);
  }

  /** Bytes waiting for their slice. */
  get bytes(): number {
    return this.queued;
  }

  /** Queues bytes (views that are never written again: they are kept, not copied). */
  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.timer === null) {
      this.last = Date.now();
      this.timer = setInterval(() => this.slice(), PACE_INTERVAL);
      this.timer.unref();
    }
  }

  /** Hands everything queued to the socket at once and stops. */
  release(): void {
    this.stopTimer();
    const socket = this.socket;
    for (let i = this.head; i < this.queue.length; i++) if (!socket.destroyed) socket.write(this.queue[i]!);
    this.queue = [];
    this.head = 0;
    this.queued = 0;
  }

  /** Drops what is queued (the socket is gone). */
  stop(): void {
    this.stopTimer();
    this.queue = [];
    this.head = 0;
    this.queued = 0;
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Writes what the rate allows since the last slice. */
  private slice(): void {
    const now = Date.now();
    this.budget = Math.min(this.budget + ((now - this.last) * this.rate) / 1000, this.rate);
    this.last = now;
    const socket = this.socket;
    if (socket.destroyed) {
      this.stop();
      return;
    }
    let allowed = Math.floor(this.budget);
    while (allowed > 0 && this.head < this.queue.length) {
      const chunk = this.queue[this.head]!;
      if (chunk.length <= allowed) {
        socket.write(chunk);
        this.head++;
        allowed -= chunk.length;
        this.queued -= chunk.length;
        this.budget -= chunk.length;
      } else {
        socket.write(chunk.subarray(0, allowed));
        this.queue[this.head] = chunk.subarray(allowed);
        this.queued -= allowed;
        this.budget -= allowed;
        allowed = 0;
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      this.budget = 0;
      this.stopTimer();
      this.emptied();
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
