/**
 * How the game page draws between two states (/apps/game-interpolation.js):
 * the server sends a state per tick, the screen refreshes faster, so each
 * animation frame draws every player part of the way from where it was
 * drawn when the latest state arrived to where that state puts it. No DOM
 * here: served to browsers, imported by the tests.
 */
import type { PlayerState } from './game-api.js';

/** Players by id. */
export type PlayerMap = ReadonlyMap<number, PlayerState>;

/** How far into the current tick `now` is, 0 … 1: `arrived` is when the latest state came, `interval` the tick's length (ms). */
export function tickProgress(now: number, arrived: number, interval: number): number {
  if (!(interval > 0)) return 1;
  return Math.min(1, Math.max(0, (now - arrived) / interval));
}

/** The angle from `from` to `to` the short way round, −π … π. */
function turn(from: number, to: number): number {
  let delta = (to - from) % (2 * Math.PI);
  if (delta > Math.PI) delta -= 2 * Math.PI;
  if (delta < -Math.PI) delta += 2 * Math.PI;
  return delta;
}

/** `player` as drawn at `alpha` of the way from `before` (null: it just appeared, drawn where it is). */
export function between(before: PlayerState | undefined, player: PlayerState, alpha: number): PlayerState {
  if (before === undefined) return player;
  return {
    ...player,
    x: before.x + (player.x - before.x) * alpha,
    y: before.y + (player.y - before.y) * alpha,
    heading: before.heading + turn(before.heading, player.heading) * alpha,
  };
}

/** Every player of `current` as drawn at `alpha` of the way from `previous`. */
export function blend(previous: PlayerMap | null, current: PlayerMap, alpha: number): Map<number, PlayerState> {
  const drawn = new Map<number, PlayerState>();
  for (const [id, player] of current) drawn.set(id, between(previous?.get(id), player, alpha));
  return drawn;
}
