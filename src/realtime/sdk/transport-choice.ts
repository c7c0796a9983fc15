/**
 * Which transport the client's next connection attempt uses
 * (`RealtimeClient`'s `transports` option; docs/sdk.md).
 *
 * The first transport of the list is preferred. An attempt over it that
 * fails before anything came back (the upgrade was refused, or no `connect`
 * reply came in time) is followed at once by an attempt over the next one.
 * When that one connects, the client stays on it — also across reconnects —
 * for `retryAfter` ms, then tries the preferred one again at its next
 * reconnect. When the fallback fails too (the server is simply down), the
 * next attempt, after the usual backoff, starts again from the preferred one.
 */

/** The transports of the client: WebSocket, and the HTTP fallback (docs/protocol.md §11). */
export type TransportName = 'websocket' | 'http';

export const TRANSPORT_NAMES: readonly TransportName[] = ['websocket', 'http'];

/** After a fallback, how long the client stays on it before trying WebSocket again (ms). */
export const DEFAULT_WEBSOCKET_RETRY_AFTER = 5 * 60_000;

/** Checks a `transports` option: a non-empty list of known transports, each once. */
export function checkTransports(transports: readonly string[]): readonly TransportName[] {
  if (!Array.isArray(transports) || transports.length === 0) throw new RangeError('transports must list at least one transport');
  for (const name of transports) {
    if (!TRANSPORT_NAMES.includes(name as TransportName)) throw new RangeError(`unknown transport '${String(name)}' (use 'websocket' or 'http')`);
  }
  if (new Set(transports).size !== transports.length) throw new RangeError('transports lists a transport twice');
  return [...transports] as TransportName[];
}

export class TransportChoice {
  readonly #transports: readonly TransportName[];
  readonly #retryAfter: number;
  readonly #now: () => number;
  /** The transport the client settled on after the preferred one failed, and since when. */
  #fallback: { transport: TransportName; since: number } | undefined;
  /** The transport to try right after a failed attempt. */
  #next: TransportName | undefined;

  constructor(transports: readonly TransportName[], retryAfter: number, now: () => number) {
    this.#transports = transports;
    this.#retryAfter = retryAfter;
    this.#now = now;
  }

  /** The transports, preferred first. */
  get transports(): readonly TransportName[] {
    return this.#transports;
  }

  /** The transport of the next attempt. */
  next(): TransportName {
    if (this.#next !== undefined) return this.#next;
    const fallback = this.#fallback;
    if (fallback !== undefined && this.#now() - fallback.since < this.#retryAfter) return fallback.transport;
    return this.#transports[0]!;
  }

  /** True when an attempt over `transport` that fails may be followed by one over another transport. */
  hasAlternative(transport: TransportName): boolean {
    return this.#after(transport) !== undefined;
  }

  /**
   * An attempt over `transport` failed before anything came back over it.
   * Returns true when the next attempt should come at once over another transport.
   */
  failed(transport: TransportName): boolean {
    const after = this.#after(transport);
    this.#next = after;
    return after !== undefined;
  }

  /** A connection over `transport` succeeded. */
  succeeded(transport: TransportName): void {
    this.#next = undefined;
    if (transport === this.#transports[0]) this.#fallback = undefined;
    else if (this.#fallback?.transport !== transport || this.#now() - this.#fallback.since >= this.#retryAfter) {
      this.#fallback = { transport, since: this.#now() };
    }
  }

  /** The transport after `transport` in the list, if any. */
  #after(transport: TransportName): TransportName | undefined {
    const index = this.#transports.indexOf(transport);
    return index === -1 ? undefined : this.#transports[index + 1];
  }
}
