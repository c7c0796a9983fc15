/**
 * The server heartbeat: one interval timer for all the connections of a
 * server (not one per connection). At every tick, a connection that showed no
 * sign of life since the previous tick is expired; the others are marked
 * silent and pinged. Anything received (a pong, a message, any byte) counts as
 * a sign of life, so a dead peer is expired after at most two intervals.
 */
import { ConnectionError } from './errors.js';

/** What the heartbeat does to its members. */
export interface HeartbeatActions<T> {
  /** Sends a ping to a member that was alive. */
  ping(member: T): void;
  /** Ends a member that did not answer the previous ping. */
  expire(member: T, error: ConnectionError): void;
}

export class Heartbeat<T> {
  /** Interval between ticks, in milliseconds. */
  readonly interval: number;
  private readonly actions: HeartbeatActions<T>;
  /** Members, each with whether it showed life since the last tick. */
  private readonly alive = new Map<T, boolean>();
  private timer: NodeJS.Timeout | null = null;

  constructor(interval: number, actions: HeartbeatActions<T>) {
    this.interval = interval;
    this.actions = actions;
  }

  /** Number of members. */
  get size(): number {
    return this.alive.size;
  }

  /** Starts watching a member (counted alive); the timer runs while there are members. */
  add(member: T): void {
    this.alive.set(member, true);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.interval);
      this.timer.unref();
    }
  }

  /** Stops watching a member. */
  delete(member: T): void {
    this.alive.delete(member);
    if (this.alive.size === 0) this.stopTimer();
  }

  /** Records a sign of life (no-op for non-members). */
  markAlive(member: T): void {
    if (this.alive.has(member)) this.alive.set(member, true);
  }

  /** Forgets every member and stops the timer. */
  stop(): void {
    this.alive.clear();
    this.stopTimer();
  }

  private tick(): void {
    for (const [member, alive] of this.alive) {
      if (alive) {
        this.alive.set(member, false);
        this.actions.ping(member);
      } else {
        this.delete(member);
        this.actions.expire(member, heartbeatTimeout(this.interval));
      }
    }
  }

  private stopTimer(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

function heartbeatTimeout(interval: number): ConnectionError {
  return new ConnectionError('SB_ERR_HEARTBEAT_TIMEOUT', `no sign of life from the peer within ${interval} ms of a ping`);
}
