/**
 * The idle timeout: one interval timer for all the connections of a server
 * sweeps them and closes those from which no frame (no message, ping or pong)
 * arrived for `idleTimeout` ms. Unlike the heartbeat, which counts any byte
 * as a sign of life, this catches a peer that keeps its connection busy with
 * a frame it never finishes, or (with the heartbeat off) one that went quiet.
 *
 * A member's clock is a tick count: the timer ticks every `idleTimeout / 8`
 * ms, activity resets the count to 0, and eight ticks in a row without
 * activity expire the member. A silent peer is therefore closed between ⅞ of
 * `idleTimeout` and `idleTimeout` after its last frame.
 */

/** No frame from the peer for this long (ms) closes the connection with 1001, by default. */
export const DEFAULT_IDLE_TIMEOUT = 120_000;

const TICKS = 8;

/** What the sweeper needs of a member: the ticks since its last activity. */
export interface IdleMember {
  /** Ticks since the last frame from the peer; set it to 0 on every frame. */
  idleTicks: number;
}

/** What the sweeper does to a member that stayed silent. */
export interface IdleActions<T> {
  expire(member: T): void;
}

export class IdleSweeper<T extends IdleMember> {
  readonly timeout: number;
  private readonly actions: IdleActions<T>;
  private readonly members: Set<T>;
  /** False when `members` is the owner's set (then `stop()` leaves it as it is). */
  private readonly ownsMembers: boolean;
  private timer: NodeJS.Timeout | null = null;

  /** `members`: the owner's set to watch, shared as with `Heartbeat` (see there). */
  constructor(timeout: number, actions: IdleActions<T>, members?: Set<T>) {
    this.timeout = timeout;
    this.actions = actions;
    this.members = members ?? new Set();
    this.ownsMembers = members === undefined;
  }

  get size(): number {
    return this.members.size;
  }

  /** Starts watching a member (active now); the timer runs while there are members. */
  add(member: T): void {
    member.idleTicks = 0;
    this.members.add(member);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), Math.max(1, this.timeout / TICKS));
      this.timer.unref();
    }
  }

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
      if (++member.idleTicks < TICKS) continue;
      this.delete(member);
      this.actions.expire(member);
    }
  }

  private stopTimer(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
