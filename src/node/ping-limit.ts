/**
 * The ping flood guard of one connection. Every ping costs the receiver a
 * pong, so a peer could make us write as fast as it writes (and, if it never
 * reads, make those pongs pile up in memory). At most `maxPerSecond` pings are
 * answered per one-second window; the others get no pong. A peer that stays
 * over the rate for `floodTimeout` ms, window after window, is flooding: the
 * connection is then closed with 1008.
 *
 * No timer is involved: the clock is read when a ping arrives, and the state
 * is allocated only for connections that ever send one.
 */

/** Pings answered per second and connection, by default. */
export const DEFAULT_MAX_PINGS_PER_SECOND = 20;
/** How long (ms) pings may stay over the rate before the connection closes with 1008, by default. */
export const DEFAULT_PING_FLOOD_TIMEOUT = 3000;

/** What to do with one ping: answer it, leave it unanswered, or close the connection. */
export type PingDecision = 'answer' | 'ignore' | 'flood';

const WINDOW = 1000;

/** Monotonic milliseconds. */
function monotonicNow(): number {
  return performance.now();
}

export class PingLimiter {
  private readonly maxPerSecond: number;
  private readonly floodTimeout: number;
  private readonly now: () => number;
  private windowStart: number;
  private count = 0;
  /** True when the current window went over the rate. */
  private over = false;
  /** Start of the first of the consecutive windows over the rate; -1 when not flooding. */
  private floodStart = -1;

  constructor(maxPerSecond: number, floodTimeout: number, now: () => number = monotonicNow) {
    this.maxPerSecond = maxPerSecond;
    this.floodTimeout = floodTimeout;
    this.now = now;
    this.windowStart = now();
  }

  /** Decides about one ping that just arrived. */
  admit(): PingDecision {
    const now = this.now();
    if (now - this.windowStart >= WINDOW) this.nextWindow(now);
    this.count++;
    if (this.count <= this.maxPerSecond) return 'answer';
    if (!this.over) {
      this.over = true;
      if (this.floodStart < 0) this.floodStart = this.windowStart;
    }
    return now - this.floodStart >= this.floodTimeout ? 'flood' : 'ignore';
  }

  /** Opens a new window; the flood goes on only if the previous window was over and directly precedes it. */
  private nextWindow(now: number): void {
    const continues = this.over && now - this.windowStart < 2 * WINDOW;
    if (!continues) this.floodStart = -1;
    this.windowStart = now;
    this.count = 0;
    this.over = false;
  }
}
