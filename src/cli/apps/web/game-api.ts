/**
 * The multiplayer game of `switchboard serve` (`/game`): its channel, its
 * methods, and the frame the server publishes every tick. Shared by the
 * server (game-world.ts, game-server.ts) and the page's script; it is served
 * to browsers too (/apps/game-api.js), so it holds no DOM or Node code.
 *
 * A frame is published as MessagePack (it holds bytes): the players and the
 * items are packed into two byte arrays of fixed-size records, positions in
 * 1/16 of an arena unit, so that 50 players cost about 500 bytes a tick.
 */

/** The namespace of the arenas: `game:<arena>`, published by the server only. */
export const GAME_NAMESPACE = 'game';

/** The arena's size in game units (16:10, like the whiteboard). */
export const ARENA_WIDTH = 1600;
export const ARENA_HEIGHT = 1000;
/** A player's radius and an item's, in game units. */
export const PLAYER_RADIUS = 16;
export const ITEM_RADIUS = 9;
/** Positions travel as integers: units × POSITION_SCALE (1600 × 16 fits 16 bits). */
export const POSITION_SCALE = 16;

/** Bytes of one packed player: id u16, x u16, y u16, heading u8, flags u8, score u16 (big-endian). */
export const PLAYER_RECORD = 10;
/** Bytes of one packed item: x u16, y u16. */
export const ITEM_RECORD = 4;
/** Flags of a packed player. */
export const FLAG_AWAY = 1;
export const FLAG_BOT = 2;
/** Highest score a frame can carry. */
export const MAX_SCORE = 0xffff;
/** Highest player id. */
export const MAX_PLAYER_ID = 0xffff;

/** One player as the page draws it. */
export interface PlayerState {
  id: number;
  x: number;
  y: number;
  /** Radians, 0 = +x, counter-clockwise towards +y; 1/256 of a turn precise. */
  heading: number;
  score: number;
  /** Disconnected, kept for the grace period. */
  away: boolean;
  bot: boolean;
}

/** An item to collect. */
export interface ItemState {
  x: number;
  y: number;
}

/** Who a player is: sent when the roster changes and once a second. */
export interface RosterEntry {
  id: number;
  /** The user id of the player's guest identity ('' for bots). */
  user: string;
  name: string;
  color: string;
}

/** What the server measured over the last second. */
export interface GameStats {
  /** Mean time of one tick, in ms: simulation, packing, and publishing until the broker took the frame (in memory: the fan-out included). */
  tickMs: number;
  /** Longest tick of the second, in ms. */
  maxTickMs: number;
  /** Bytes of a frame without roster and stats (most ticks), MessagePack-encoded. */
  frameBytes: number;
}

/** The publication of every tick on `game:<arena>`. */
export interface GameFrame {
  tick: number;
  /** The server's clock when the tick ran (ms since the epoch). */
  time: number;
  /** PLAYER_RECORD bytes per player. */
  players: Uint8Array;
  /** ITEM_RECORD bytes per item. */
  items: Uint8Array;
  /** Every player's entry: when it changed, and once a second. */
  roster?: RosterEntry[];
  /** Once a second. */
  stats?: GameStats;
}

/** The params of `game.join`: the seat an earlier join returned, to come back as the same player. */
export interface GameJoinParams {
  seat?: string;
}

/** The result of `game.join`. */
export interface GameJoined {
  /** This connection's player. */
  player: number;
  /** Keep it (this tab) and send it back to rejoin as the same player. */
  seat: string;
  /** The channel of the arena's frames. */
  channel: string;
  /** Ticks per second. */
  tickRate: number;
  /** The arena now, with the roster: drawn before the first published frame arrives. */
  frame: GameFrame;
}

/**
 * The params of `game.input`: the direction to steer in, each component in
 * −1 … 1 (a vector longer than 1 counts as 1: full speed).
 */
export interface GameInput {
  x: number;
  y: number;
}

/** Seats: what `game.join` hands out (base64url). */
export const SEAT_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** Packs players into PLAYER_RECORD-byte records. Values are clamped to what the fields hold. */
export function packPlayers(players: readonly PlayerState[]): Uint8Array {
  const bytes = new Uint8Array(players.length * PLAYER_RECORD);
  const view = new DataView(bytes.buffer);
  players.forEach((player, i) => {
    const at = i * PLAYER_RECORD;
    view.setUint16(at, clampInt(player.id, 0, MAX_PLAYER_ID));
    view.setUint16(at + 2, packCoordinate(player.x, ARENA_WIDTH));
    view.setUint16(at + 4, packCoordinate(player.y, ARENA_HEIGHT));
    view.setUint8(at + 6, packHeading(player.heading));
    view.setUint8(at + 7, (player.away ? FLAG_AWAY : 0) | (player.bot ? FLAG_BOT : 0));
    view.setUint16(at + 8, clampInt(player.score, 0, MAX_SCORE));
  });
  return bytes;
}

/** Unpacks players; trailing bytes short of a record are ignored. */
export function unpackPlayers(bytes: Uint8Array): PlayerState[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const players: PlayerState[] = [];
  for (let at = 0; at + PLAYER_RECORD <= bytes.byteLength; at += PLAYER_RECORD) {
    const flags = view.getUint8(at + 7);
    players.push({
      id: view.getUint16(at),
      x: view.getUint16(at + 2) / POSITION_SCALE,
      y: view.getUint16(at + 4) / POSITION_SCALE,
      heading: (view.getUint8(at + 6) / 256) * 2 * Math.PI,
      away: (flags & FLAG_AWAY) !== 0,
      bot: (flags & FLAG_BOT) !== 0,
      score: view.getUint16(at + 8),
    });
  }
  return players;
}

/** Packs items into ITEM_RECORD-byte records. */
export function packItems(items: readonly ItemState[]): Uint8Array {
  const bytes = new Uint8Array(items.length * ITEM_RECORD);
  const view = new DataView(bytes.buffer);
  items.forEach((item, i) => {
    view.setUint16(i * ITEM_RECORD, packCoordinate(item.x, ARENA_WIDTH));
    view.setUint16(i * ITEM_RECORD + 2, packCoordinate(item.y, ARENA_HEIGHT));
  });
  return bytes;
}

/** Unpacks items. */
export function unpackItems(bytes: Uint8Array): ItemState[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const items: ItemState[] = [];
  for (let at = 0; at + ITEM_RECORD <= bytes.byteLength; at += ITEM_RECORD) {
    items.push({ x: view.getUint16(at) / POSITION_SCALE, y: view.getUint16(at + 2) / POSITION_SCALE });
  }
  return items;
}

function clampInt(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(max, Math.max(min, Math.round(value)));
}

function packCoordinate(value: number, size: number): number {
  return clampInt(value * POSITION_SCALE, 0, size * POSITION_SCALE);
}

function packHeading(radians: number): number {
  if (!Number.isFinite(radians)) return 0;
  const turns = radians / (2 * Math.PI);
  return Math.round((turns - Math.floor(turns)) * 256) % 256;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** True for a roster entry a page can show (the name and colour are checked again where they are drawn). */
export function isRosterEntry(value: unknown): value is RosterEntry {
  return isRecord(value) && isCount(value['id']) && typeof value['user'] === 'string' && typeof value['name'] === 'string' && typeof value['color'] === 'string';
}

/** True for a well-formed frame (byte arrays, counts, and a roster and stats when present). */
export function isGameFrame(value: unknown): value is GameFrame {
  if (!isRecord(value)) return false;
  if (!isCount(value['tick']) || !isCount(value['time'])) return false;
  if (!(value['players'] instanceof Uint8Array) || !(value['items'] instanceof Uint8Array)) return false;
  const roster = value['roster'];
  if (roster !== undefined && !(Array.isArray(roster) && roster.every(isRosterEntry))) return false;
  const stats = value['stats'];
  return stats === undefined || (isRecord(stats) && ['tickMs', 'maxTickMs', 'frameBytes'].every((field) => typeof stats[field] === 'number' && Number.isFinite(stats[field])));
}

/** True for a well-formed join result. */
export function isGameJoined(value: unknown): value is GameJoined {
  if (!isRecord(value)) return false;
  return (
    isCount(value['player']) &&
    typeof value['seat'] === 'string' &&
    SEAT_PATTERN.test(value['seat']) &&
    typeof value['channel'] === 'string' &&
    value['channel'].startsWith(`${GAME_NAMESPACE}:`) &&
    isCount(value['tickRate']) &&
    isGameFrame(value['frame'])
  );
}
