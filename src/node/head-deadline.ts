/**
 * The deadline of the request head on the raw-socket path: a connection must
 * deliver a complete request head within the handshake timeout of its
 * arrival, or it gets 408 and is closed (what Node's `headersTimeout` does
 * on the `http.Server` path, slowloris and silent sockets included).
 *
 * One interval timer serves every connection: the timeout is the same for
 * all, so the connections expire in the order they arrived and each sweep
 * stops at the first one still in time. A connection is closed between the
 * timeout and the timeout plus one check interval (a quarter of the timeout,
 * between 50 ms and 1 s) after it arrived. The timer runs only while a
 * connection waits. A timeout of 0 watches without a deadline.
 */

/** How often the deadlines are checked for a handshake timeout: a quarter of it, between 50 ms and 1 s. */
export function headCheckInterval(timeout: number): number {
  return Math.max(50, Math.min(1000, Math.floor(timeout / 4)));
}

export class HeadDeadlines<T> {
  readonly timeout: number;
  private readonly expire: (member: T) => void;
  /** Waiting members and when they arrived (ms, monotonic), in arrival order. */
  private readonly arrived = new Map<T, number>();
  private timer: NodeJS.Timeout | null = null;

  /** `expire` runs for a member still waiting `timeout` ms after `add`; it is no longer watched then. */
  constructor(timeout: number, expire: (member: T) => void) {
    this.timeout = timeout;
    this.expire = expire;
  }

  /** Members waiting now. */
  get size(): number {
    return this.arrived.size;
  }

  /** Starts the clock of a member (now). */
  add(member: T): void {
    this.arrived.set(member, performance.now());
    if (this.timer === null && this.timeout > 0) {
      this.timer = setInterval(this.sweep, headCheckInterval(this.timeout));
      this.timer.unref();
    }
  }

  /** Stops watching a member (its head arrived, or it went away). */
  delete(member: T): void {
    this.arrived.delete(member);
  }

  /** The members still waiting, which are no longer watched. */
  drain(): T[] {
    const members = [...this.arrived.keys()];
    this.arrived.clear();
    this.stopTimer();
    return members;
  }

  private readonly sweep = (): void => {
    const due = performance.now() - this.timeout;
    for (const [member, at] of this.arrived) {
      if (at > due) break;
      this.arrived.delete(member);
      this.expire(member);
    }
    if (this.arrived.size === 0) this.stopTimer();
  };

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
