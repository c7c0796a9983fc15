/**
 * The timer functions the SDK runs on: the platform's by default, fake ones
 * in tests (together with a fake clock).
 */

/** Timer functions; injectable for tests. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

/** setTimeout's largest delay; longer waits are taken in steps. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** Clears a timer that may not be set. */
export function clearTimer(timers: Timers, handle: unknown): void {
  if (handle !== undefined) timers.clearTimeout(handle);
}
