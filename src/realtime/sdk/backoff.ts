/**
 * Reconnect delays: exponential backoff with a cap and "full jitter" — the
 * delay of attempt n (0-based) is uniformly random in
 * [0, min(maxDelay, minDelay · factor^n)), which spreads the reconnects of many
 * clients after an outage instead of having them arrive in waves.
 */

/** Backoff settings; every field has a default. */
export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. */
  minDelay?: number;
  /** Cap of every delay, in ms. */
  maxDelay?: number;
  /** Growth of the ceiling per attempt. */
  factor?: number;
}

export const DEFAULT_MIN_DELAY = 500;
export const DEFAULT_MAX_DELAY = 20_000;
export const DEFAULT_FACTOR = 2;

/** Backoff settings with every default filled in. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** Fills in the defaults and checks the values (RangeError otherwise). */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  const resolved = {
    minDelay: options.minDelay ?? DEFAULT_MIN_DELAY,
    maxDelay: options.maxDelay ?? DEFAULT_MAX_DELAY,
    factor: options.factor ?? DEFAULT_FACTOR,
  };
  if (!(resolved.minDelay >= 0)) throw new RangeError(`reconnect.minDelay must be ≥ 0, got ${resolved.minDelay}`);
  if (!(resolved.maxDelay >= resolved.minDelay)) throw new RangeError(`reconnect.maxDelay must be ≥ minDelay, got ${resolved.maxDelay}`);
  if (!(resolved.factor >= 1)) throw new RangeError(`reconnect.factor must be ≥ 1, got ${resolved.factor}`);
  return resolved;
}

/** The upper bound of the delay of attempt `attempt` (0-based): min(maxDelay, minDelay · factor^attempt). */
export function backoffCeiling(attempt: number, options: ResolvedBackoff): number {
  if (options.minDelay === 0) return 0;
  const grown = options.minDelay * options.factor ** Math.max(0, attempt);
  return Number.isFinite(grown) ? Math.min(options.maxDelay, grown) : options.maxDelay;
}

/** A full-jitter delay for attempt `attempt` (0-based): `random()` in [0, 1) times the ceiling, in whole ms. */
export function backoffDelay(attempt: number, options: ResolvedBackoff, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}

/** Counts attempts and hands out their delays; `reset()` after a success. */
export class Backoff {
  readonly options: ResolvedBackoff;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.options = resolveBackoff(options);
    this.#random = random;
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt; counts it. */
  next(): number {
    return backoffDelay(this.#attempt++, this.options, this.#random);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
