/**
 * The `/game` arena on the real-time server: runs the simulation
 * (game-world.ts) at a fixed tick while its channel has a subscriber in this
 * process, and publishes every tick's frame on `game:<arena>` — as
 * MessagePack, since it holds bytes (game-api.ts). Clients call `game.join`
 * (a player, or the same one again with the seat an earlier join returned,
 * for the same guest user, within the grace period) and `game.input` (the
 * direction to steer in; params checked by the demo's schemas, clamped by
 * the world, and at most `maxInputsPerSecond` per player: more are refused
 * with `rate_limited`, and only the latest input of a tick counts anyway).
 * A dropped connection leaves its player standing for the grace period
 * (or until the arena is full and a new player needs the place).
 *
 * Under `--workers N` there is one arena for the cluster, `game:arena`:
 * worker 1 owns it — this class, ticking while a connection on any worker
 * subscribes to its channel (`ClusterSubscriberWatch`), with the bots — and
 * the other workers forward their connections' `game.join`, `game.input`
 * and disconnects to it over a relay bus (game-relay.ts). The operations
 * therefore take a caller (`GameCaller`: the session's cluster-wide id, its
 * user, name and colour), not a session, so that local and relayed calls
 * run the same code.
 */
import { randomBytes } from 'node:crypto';
import { encode } from '@msgpack/msgpack';
import { RpcError } from '../realtime/server/errors.js';
import { TokenBucket } from '../realtime/server/rate-limit.js';
import type { RealtimeServer } from '../realtime/server/server.js';
import type { Session } from '../realtime/server/session.js';
import type { DemoApi, DemoUserInfo } from './apps/web/api.js';
import { packItems, packPlayers, SEAT_PATTERN, type GameFrame, type GameInput, type GameJoined, type GameJoinParams, type GameStats } from './apps/web/game-api.js';
import { GameBots } from './game-bots.js';
import { GameFullError, GameWorld, type GameWorldOptions } from './game-world.js';
import { ClusterSubscriberWatch, SubscriberWatch, type WatchedProducer } from './subscriber-watch.js';

export interface GameServerOptions extends GameWorldOptions {
  /** The arena's name: frames go to `game:<arena>`. Default 'arena'. */
  arena?: string;
  /** Bot players added at start. Default 0. */
  bots?: number;
  /** Inputs a player may send per second (and at once after a pause); more are refused. Default 30. */
  maxInputsPerSecond?: number;
  /** Reports errors (a publish that failed, a count of the cluster's subscribers that failed). */
  onError?: (error: Error) => void;
  /**
   * True when this arena serves a cluster (`--workers N`, in worker 1): it
   * ticks while its channel has a subscriber on any node, not only here.
   */
  cluster?: boolean;
}

/**
 * Who calls `game.join`, `game.input`, or dropped: a connection of this
 * process or, relayed, of another worker.
 */
export interface GameCaller {
  /** The session's id (`Session.id`: unique across the cluster). */
  sessionId: string;
  /** The authenticated user (a guest's id). */
  user: string;
  /** Shown in the roster. */
  name: string;
  /** A CSS colour. */
  color: string;
}

/** The caller a session stands for. */
export function callerOf(session: Session<DemoApi>): GameCaller {
  const info = session.info as Partial<DemoUserInfo> | undefined;
  return { sessionId: session.id, user: session.user, name: info?.name ?? 'guest', color: info?.color ?? '#667085' };
}

/** Ticks per second unless told otherwise. */
export const DEFAULT_TICK_RATE = 20;
/** Ticks a late arena may run back to back to catch up with its schedule. */
const MAX_CATCH_UP = 5;

/** Tick times and sizes over the last second. */
class TickMeter {
  private ticks = 0;
  private total = 0;
  private max = 0;
  frameBytes = 0;

  record(ms: number): void {
    this.ticks++;
    this.total += ms;
    this.max = Math.max(this.max, ms);
  }

  /** The figures since the last call, and starts over. */
  take(): GameStats {
    const stats = { tickMs: round(this.ticks === 0 ? 0 : this.total / this.ticks), maxTickMs: round(this.max), frameBytes: this.frameBytes };
    this.ticks = 0;
    this.total = 0;
    this.max = 0;
    return stats;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function newSeat(): string {
  return randomBytes(18).toString('base64url');
}

export class GameServer {
  readonly world: GameWorld;
  readonly channel: `game:${string}`;
  private readonly bots: GameBots;
  private readonly meter = new TickMeter();
  private readonly maxInputsPerSecond: number;
  /** seat → player id, and back. */
  private readonly seats = new Map<string, number>();
  private readonly seatOf = new Map<number, string>();
  /** Which session steers which player, and each player's input budget. */
  private readonly playerOfSession = new Map<string, number>();
  private readonly sessionOfPlayer = new Map<number, string>();
  private readonly budgets = new Map<number, TokenBucket>();
  private readonly watch: SubscriberWatch | ClusterSubscriberWatch;
  private ticker: NodeJS.Timeout | undefined;
  private sentRoster = -1;
  /** The last second's figures, as sent in frames. */
  private lastStats: GameStats = { tickMs: 0, maxTickMs: 0, frameBytes: 0 };

  constructor(
    private readonly rt: RealtimeServer<DemoApi>,
    private readonly options: GameServerOptions = {},
  ) {
    this.world = new GameWorld({ ...options, tickRate: options.tickRate ?? DEFAULT_TICK_RATE });
    this.channel = `game:${options.arena ?? 'arena'}`;
    this.maxInputsPerSecond = options.maxInputsPerSecond ?? 30;
    if (!(this.maxInputsPerSecond >= 1)) throw new RangeError('maxInputsPerSecond: a number ≥ 1');
    this.bots = new GameBots(this.world);
    this.bots.add(options.bots ?? 0);
    const onError = (error: Error): void => options.onError?.(new Error(`counting the subscribers of ${this.channel}: ${error.message}`));
    this.watch = options.cluster === true ? new ClusterSubscriberWatch(rt, this.channel, this.producer(), { onError }) : new SubscriberWatch(rt, this.channel, this.producer());
    rt.method('game.join', (params, session) => this.join(params, callerOf(session)));
    rt.method('game.input', (params, session) => this.input(params, callerOf(session)));
    rt.on('disconnect', (session) => this.dropped(session.id));
  }

  get tickRate(): number {
    return this.world.tickRate;
  }

  /** True while the arena ticks. */
  get running(): boolean {
    return this.ticker !== undefined;
  }

  /** The figures of the last whole second. */
  get stats(): GameStats {
    return this.lastStats;
  }

  /** Watches for subscribers: the arena ticks while its channel has one in this process (with `cluster`: on any node). */
  start(): void {
    this.watch.start();
  }

  stop(): void {
    this.watch.stop();
  }

  /** One tick: bots steer, the world steps, the frame is published. Returns the frame. */
  tick(): GameFrame {
    const started = performance.now();
    this.bots.steer();
    const { removed } = this.world.step();
    for (const id of removed) this.forget(id);
    const second = this.world.tick % this.world.tickRate === 0;
    const frame = this.frame(false);
    if (second) {
      // The size of a frame without the roster, once a second: the encoding is not worth paying every tick for a figure.
      this.meter.frameBytes = encode(frame).byteLength;
      this.lastStats = this.meter.take();
      frame.stats = this.lastStats;
    }
    if (second || this.world.rosterVersion !== this.sentRoster) frame.roster = this.world.roster();
    this.sentRoster = this.world.rosterVersion;
    // A tick's time runs until the broker took the frame: with the memory broker, the fan-out to this process's subscribers included.
    this.rt.publish(this.channel, frame).then(
      () => this.meter.record(performance.now() - started),
      (error: unknown) => this.options.onError?.(error instanceof Error ? error : new Error(String(error))),
    );
    return frame;
  }

  /** The arena now as a frame (with the roster and the last second's figures when asked). */
  frame(withRoster = true, withStats = false): GameFrame {
    const frame: GameFrame = { tick: this.world.tick, time: Date.now(), players: packPlayers(this.world.playerStates()), items: packItems(this.world.items) };
    if (withRoster) frame.roster = this.world.roster();
    if (withStats) frame.stats = this.lastStats;
    return frame;
  }

  /** The arena as the subscriber watch drives it. */
  private producer(): WatchedProducer {
    return {
      isRunning: () => this.running,
      resume: () => this.resume(),
      pause: () => this.pause(),
    };
  }

  /**
   * Ticks on a fixed schedule: tick n is due at start + n / tickRate, each
   * timer aimed at the next due time, so that timer lateness does not add
   * up (a plain setInterval of 50 ms runs at about 19 Hz). After a stall of
   * more than MAX_CATCH_UP ticks the schedule starts over instead of
   * bursting.
   */
  private resume(): void {
    const period = 1000 / this.world.tickRate;
    let due = performance.now() + period;
    const next = (): void => {
      this.tick();
      due += period;
      const now = performance.now();
      if (now - due > MAX_CATCH_UP * period) due = now + period;
      this.ticker = setTimeout(next, Math.max(0, due - now));
      this.ticker.unref();
    };
    this.ticker = setTimeout(next, period);
    this.ticker.unref();
  }

  private pause(): void {
    clearTimeout(this.ticker);
    this.ticker = undefined;
  }

  /**
   * `game.join`: the player of `seat` when that seat is this user's and
   * still in the arena (taken over from any other connection of the user),
   * else a new player with a new seat.
   */
  join(params: GameJoinParams, caller: GameCaller): GameJoined {
    const previous = this.playerOfSession.get(caller.sessionId);
    const seated = params.seat !== undefined && SEAT_PATTERN.test(params.seat) ? this.seats.get(params.seat) : undefined;
    const player = seated === undefined ? undefined : this.world.player(seated);
    let id: number;
    if (player !== undefined && player.user === caller.user && !player.bot) {
      id = player.id;
      this.world.rejoin(id);
    } else if (previous !== undefined && this.world.player(previous) !== undefined) {
      id = previous;
    } else {
      id = this.newPlayer(caller);
    }
    this.seat(caller.sessionId, id);
    return { player: id, seat: this.seatOf.get(id)!, channel: this.channel, tickRate: this.world.tickRate, frame: this.frame(true, true) };
  }

  private newPlayer(caller: GameCaller): number {
    if (this.world.full) {
      const evicted = this.world.evictLongestAway();
      if (evicted !== undefined) this.forget(evicted);
    }
    try {
      const player = this.world.join({ user: caller.user, name: caller.name, color: caller.color });
      const seat = newSeat();
      this.seats.set(seat, player.id);
      this.seatOf.set(player.id, seat);
      this.budgets.set(player.id, new TokenBucket({ perSecond: this.maxInputsPerSecond, burst: this.maxInputsPerSecond, disconnectAfter: Number.MAX_SAFE_INTEGER }));
      return player.id;
    } catch (error) {
      if (error instanceof GameFullError) throw new RpcError('limit_exceeded', error.message);
      throw error;
    }
  }

  /** Makes session `sessionId` the one that steers player `id` (an older connection of the player no longer does). */
  private seat(sessionId: string, id: number): void {
    const before = this.sessionOfPlayer.get(id);
    if (before !== undefined && before !== sessionId) this.playerOfSession.delete(before);
    const previous = this.playerOfSession.get(sessionId);
    if (previous !== undefined && previous !== id) {
      this.sessionOfPlayer.delete(previous);
      this.world.leave(previous);
    }
    this.playerOfSession.set(sessionId, id);
    this.sessionOfPlayer.set(id, sessionId);
  }

  /** `game.input`: steers the caller's player. */
  input(params: GameInput, caller: Pick<GameCaller, 'sessionId'>): null {
    const id = this.playerOfSession.get(caller.sessionId);
    if (id === undefined || this.world.player(id) === undefined) throw new RpcError('forbidden', 'join the game first (game.join)');
    if (this.budgets.get(id)?.take() !== 'ok') throw new RpcError('rate_limited', `at most ${this.maxInputsPerSecond} inputs a second`);
    this.world.steer(id, params.x, params.y);
    return null;
  }

  /** Connection `sessionId` closed: its player stands still for the grace period. */
  dropped(sessionId: string): void {
    const id = this.playerOfSession.get(sessionId);
    if (id === undefined) return;
    this.playerOfSession.delete(sessionId);
    if (this.sessionOfPlayer.get(id) !== sessionId) return;
    this.sessionOfPlayer.delete(id);
    this.world.leave(id);
  }

  /** A player left the world: its seat, session and budget go. */
  private forget(id: number): void {
    const seat = this.seatOf.get(id);
    if (seat !== undefined) this.seats.delete(seat);
    this.seatOf.delete(id);
    this.budgets.delete(id);
    const session = this.sessionOfPlayer.get(id);
    if (session !== undefined) this.playerOfSession.delete(session);
    this.sessionOfPlayer.delete(id);
  }
}
