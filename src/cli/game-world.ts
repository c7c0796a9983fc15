/**
 * The simulation of the `/game` arena, with no I/O and no clock: players
 * steer (an input vector, clamped to length 1) and glide towards it, walls
 * stop them, and touching an item scores a point and moves the item
 * elsewhere. `step()` advances one tick of 1/tickRate s; the same seed and
 * the same calls give the same arena, tick for tick. A player who leaves is
 * kept, still, for the grace period, and can be given back (`rejoin`).
 * game-server.ts runs it on a timer and publishes it.
 */
import {
  ARENA_HEIGHT,
  ARENA_WIDTH,
  ITEM_RADIUS,
  MAX_PLAYER_ID,
  MAX_SCORE,
  PLAYER_RADIUS,
  type GameInput,
  type ItemState,
  type PlayerState,
  type RosterEntry,
} from './apps/web/game-api.js';

export interface GameWorldOptions {
  /** Ticks per second: each step is 1/tickRate s. Default 20. */
  tickRate?: number;
  /** Items on the arena at any time. Default 24. */
  items?: number;
  /** Top speed, in units per second. Default 260. */
  maxSpeed?: number;
  /** How fast the velocity follows the input, per second (1/s). Default 8. */
  acceleration?: number;
  /** How long a player who left is kept for a rejoin, in ms. Default 30,000. */
  grace?: number;
  /** Most players (bots included). Default 256. */
  maxPlayers?: number;
  /** Seed of the arena's random numbers (spawn points, items). */
  seed?: number;
}

/** Who joins. */
export interface PlayerIdentity {
  user: string;
  name: string;
  color: string;
  bot?: boolean;
}

/** A player as the world keeps it. */
export interface Player extends PlayerState {
  user: string;
  name: string;
  color: string;
  vx: number;
  vy: number;
  /** The input being followed, clamped. */
  input: GameInput;
  /** The tick the player left at, or null while present. */
  leftAt: number | null;
}

/** The arena is full (`maxPlayers`). */
export class GameFullError extends Error {
  readonly code = 'game_full';
  constructor(max: number) {
    super(`the arena is full (${max} players)`);
    this.name = 'GameFullError';
  }
}

/** What a step changed beyond positions. */
export interface StepResult {
  /** Players removed after their grace period. */
  removed: number[];
  /** Items collected: [player id, …] once per item. */
  collected: number[];
}

/** xorshift32: a small deterministic generator in [0, 1). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0 || 0x2545f491;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

/**
 * An input as the world follows it: non-finite components are 0, each is
 * clamped to −1 … 1, and a vector longer than 1 is scaled to length 1 — no
 * input makes a player faster than `maxSpeed`.
 */
export function clampInput(x: number, y: number): GameInput {
  const cx = Number.isFinite(x) ? Math.max(-1, Math.min(1, x)) : 0;
  const cy = Number.isFinite(y) ? Math.max(-1, Math.min(1, y)) : 0;
  const length = Math.hypot(cx, cy);
  return length > 1 ? { x: cx / length, y: cy / length } : { x: cx, y: cy };
}

export class GameWorld {
  readonly tickRate: number;
  readonly maxSpeed: number;
  /** Ticks a player who left is kept for. */
  readonly graceTicks: number;
  private readonly acceleration: number;
  private readonly maxPlayers: number;
  private readonly random: () => number;
  private readonly byId = new Map<number, Player>();
  private readonly itemList: ItemState[] = [];
  private nextId = 1;
  private currentTick = 0;
  private rosterChanges = 0;

  constructor(options: GameWorldOptions = {}) {
    this.tickRate = options.tickRate ?? 20;
    if (!Number.isInteger(this.tickRate) || this.tickRate < 1 || this.tickRate > 120) throw new RangeError('tickRate: an integer in 1 … 120');
    this.maxSpeed = options.maxSpeed ?? 260;
    this.acceleration = options.acceleration ?? 8;
    this.graceTicks = Math.ceil(((options.grace ?? 30_000) * this.tickRate) / 1000);
    this.maxPlayers = Math.min(options.maxPlayers ?? 256, MAX_PLAYER_ID);
    this.random = createRandom(options.seed ?? 0x9e3779b9);
    for (let i = 0; i < (options.items ?? 24); i++) this.itemList.push(this.randomPoint(ITEM_RADIUS));
  }

  /** Ticks run so far. */
  get tick(): number {
    return this.currentTick;
  }

  /** Grows by one each time a player joins or is removed (the roster to send changed). */
  get rosterVersion(): number {
    return this.rosterChanges;
  }

  /** Every player, in joining order. */
  get players(): readonly Player[] {
    return [...this.byId.values()];
  }

  get items(): readonly ItemState[] {
    return this.itemList;
  }

  player(id: number): Player | undefined {
    return this.byId.get(id);
  }

  /** True when a join would need a place: `maxPlayers` are in the arena. */
  get full(): boolean {
    return this.byId.size >= this.maxPlayers;
  }

  /**
   * Removes the player who has been away the longest, to make room; returns
   * its id, or undefined when everyone is present. Players who dropped are
   * the first to go when the arena is full, so that connections that come
   * and go cannot keep others out for a grace period each.
   */
  evictLongestAway(): number | undefined {
    let oldest: Player | undefined;
    for (const player of this.byId.values()) {
      if (player.leftAt !== null && (oldest === undefined || player.leftAt < oldest.leftAt!)) oldest = player;
    }
    if (oldest !== undefined) this.remove(oldest.id);
    return oldest?.id;
  }

  /** Adds a player at a random free-ish spot; throws GameFullError when the arena is full. */
  join(identity: PlayerIdentity): Player {
    if (this.full) throw new GameFullError(this.maxPlayers);
    const id = this.freeId();
    const spot = this.randomPoint(PLAYER_RADIUS * 3);
    const player: Player = {
      id,
      user: identity.user,
      name: identity.name,
      color: identity.color,
      bot: identity.bot === true,
      x: spot.x,
      y: spot.y,
      vx: 0,
      vy: 0,
      heading: this.random() * 2 * Math.PI,
      score: 0,
      away: false,
      input: { x: 0, y: 0 },
      leftAt: null,
    };
    this.byId.set(id, player);
    this.rosterChanges++;
    return player;
  }

  /** The player left (a dropped connection): it stops and is kept for the grace period. */
  leave(id: number): void {
    const player = this.byId.get(id);
    if (player === undefined || player.away) return;
    player.away = true;
    player.leftAt = this.currentTick;
    player.input = { x: 0, y: 0 };
  }

  /** The player is back within the grace period; false when it is gone. */
  rejoin(id: number): boolean {
    const player = this.byId.get(id);
    if (player === undefined) return false;
    player.away = false;
    player.leftAt = null;
    return true;
  }

  /** Removes a player at once. */
  remove(id: number): void {
    if (this.byId.delete(id)) this.rosterChanges++;
  }

  /** Sets the direction player `id` steers in (clamped); ignored for a player who is away or gone. */
  steer(id: number, x: number, y: number): void {
    const player = this.byId.get(id);
    if (player === undefined || player.away) return;
    player.input = clampInput(x, y);
  }

  /** Advances one tick. */
  step(): StepResult {
    this.currentTick++;
    const dt = 1 / this.tickRate;
    const follow = Math.min(1, this.acceleration * dt);
    const removed: number[] = [];
    const collected: number[] = [];
    for (const player of this.byId.values()) {
      if (player.leftAt !== null && this.currentTick - player.leftAt >= this.graceTicks) {
        removed.push(player.id);
        continue;
      }
      this.move(player, dt, follow);
      if (!player.away) this.collect(player, collected);
    }
    for (const id of removed) this.remove(id);
    return { removed, collected };
  }

  /** The players as frames carry them. */
  playerStates(): PlayerState[] {
    return this.players.map(({ id, x, y, heading, score, away, bot }) => ({ id, x, y, heading, score, away, bot }));
  }

  /** Who every player is. */
  roster(): RosterEntry[] {
    return this.players.map(({ id, user, name, color }) => ({ id, user, name, color }));
  }

  private move(player: Player, dt: number, follow: number): void {
    player.vx += (player.input.x * this.maxSpeed - player.vx) * follow;
    player.vy += (player.input.y * this.maxSpeed - player.vy) * follow;
    if (Math.hypot(player.vx, player.vy) < 0.5) {
      player.vx = 0;
      player.vy = 0;
    }
    player.x += player.vx * dt;
    player.y += player.vy * dt;
    if (player.x < PLAYER_RADIUS || player.x > ARENA_WIDTH - PLAYER_RADIUS) {
      player.x = Math.min(ARENA_WIDTH - PLAYER_RADIUS, Math.max(PLAYER_RADIUS, player.x));
      player.vx = 0;
    }
    if (player.y < PLAYER_RADIUS || player.y > ARENA_HEIGHT - PLAYER_RADIUS) {
      player.y = Math.min(ARENA_HEIGHT - PLAYER_RADIUS, Math.max(PLAYER_RADIUS, player.y));
      player.vy = 0;
    }
    if (player.vx !== 0 || player.vy !== 0) player.heading = Math.atan2(player.vy, player.vx);
  }

  private collect(player: Player, collected: number[]): void {
    const reach = (PLAYER_RADIUS + ITEM_RADIUS) ** 2;
    for (let i = 0; i < this.itemList.length; i++) {
      const item = this.itemList[i]!;
      if ((item.x - player.x) ** 2 + (item.y - player.y) ** 2 > reach) continue;
      player.score = Math.min(MAX_SCORE, player.score + 1);
      collected.push(player.id);
      this.itemList[i] = this.randomPoint(ITEM_RADIUS * 2);
    }
  }

  private randomPoint(margin: number): ItemState {
    return { x: margin + this.random() * (ARENA_WIDTH - 2 * margin), y: margin + this.random() * (ARENA_HEIGHT - 2 * margin) };
  }

  /** The next id not in use (ids wrap after MAX_PLAYER_ID). */
  private freeId(): number {
    while (this.byId.has(this.nextId)) this.nextId = (this.nextId % MAX_PLAYER_ID) + 1;
    const id = this.nextId;
    this.nextId = (this.nextId % MAX_PLAYER_ID) + 1;
    return id;
  }
}
