/**
 * The server heartbeat: one interval timer for all the connections of a
 * server (not one per connection). At every tick, a connection that showed no
 * sign of life since the previous tick is expired; the others are marked
 * silent and pinged. Anything received (a pong, a message, any byte) counts as
 * a sign of life, so a dead peer is expired after at most two intervals.
 *
 * The sign of life is kept by the member itself (`takeSignOfLife` reads and
 * clears it), so receiving costs no listener, map lookup or timer reset here.
 */
import { ConnectionError } from './errors.js';

/** What the heartbeat does to its members. */
export interface HeartbeatActions<T> {
  /** Sends a ping to a member that was alive. */
  ping(member: T): void;
  /** Ends a member that did not answer the previous ping. */
  expire(member: T, error: ConnectionError): void;
  /**
   * Whether the member showed life since the previous call (or since it was
   * added, for the first call), and forgets it: the next call answers for
   * what arrives after this one.
   */
  takeSignOfLife(member: T): boolean;
}

export class Heartbeat<T> {
  /** Interval between ticks, in milliseconds. */
  readonly interval: number;
  private readonly actions: HeartbeatActions<T>;
  private readonly members: Set<T>;
  /** False when `members` is the owner's set (then `stop()` leaves it as it is). */
  private readonly ownsMembers: boolean;
  private timer: NodeJS.Timeout | null = null;

  /**
   * `members`: the set to watch, when the owner keeps one of its own (a
   * server's open connections): a member then costs one set entry for all
   * the guards that share it, and `add`/`delete` keep the set as the owner does.
   */
  constructor(interval: number, actions: HeartbeatActions<T>, members?: Set<T>) {
    this.interval = interval;
    this.actions = actions;
    this.members = members ?? new Set();
    this.ownsMembers = members === undefined;
  }

  /** Number of members. */
  get size(): number {
    return this.members.size;
  }

  /** Starts watching a member (its sign of life must be set: new members count as alive); the timer runs while there are members. */
  add(member: T): void {
    this.members.add(member);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.interval);
      this.timer.unref();
    }
  }

  /** Stops watching a member. */
  delete(member: T): void {
    this.members.delete(member);
    if (this.members.size === 0) this.stopTimer();
  }

  /** Stops the timer and forgets every member (a set shared with the owner is left to the owner). */
  stop(): void {
    if (this.ownsMembers) this.members.clear();
    this.stopTimer();
  }

  private tick(): void {
    for (const member of this.members) {
      if (this.actions.takeSignOfLife(member)) {
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
