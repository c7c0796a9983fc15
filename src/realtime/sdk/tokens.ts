/**
 * The client's credential: the fixed `token`, or what `getToken()` gives;
 * which one the next connect sends, and its refresh on the connection before
 * it expires (a `refresh` command), tried again after transient failures.
 */
import { ErrorCode } from '../wire/errors.js';
import type { RefreshResult } from '../wire/messages.js';
import { DEFAULT_REFRESH_RATIO, DEFAULT_REFRESH_RETRY, MIN_REFRESH_MARGIN } from './client-options.js';
import type { Connection, ConnectionHost, TokenOutcome } from './connection.js';
import { asError, ClientErrorCode } from './errors.js';
import { clearTimer, MAX_TIMER_DELAY } from './timers.js';

/** Refresh errors about the token itself: trying again with the same source is pointless. */
const TOKEN_REFUSALS = new Set<string>([ErrorCode.Unauthorized, ErrorCode.Forbidden, ErrorCode.TokenExpired]);

export class TokenKeeper {
  readonly #host: ConnectionHost;
  readonly #getToken: (() => string | Promise<string>) | undefined;
  readonly #refreshMargin: number | undefined;
  /** The current credential: the fixed `token`, then the last refreshed one. */
  #token: string | undefined;
  readonly #fixedToken: boolean;
  /** The current token was found expired: fetch a new one before the next connect. */
  #stale = false;
  /** When the current token expires, as the server said (ms since the epoch). */
  #expires: number | undefined;

  constructor(host: ConnectionHost, token: string | undefined, getToken: (() => string | Promise<string>) | undefined, refreshMargin: number | undefined) {
    this.#host = host;
    this.#token = token;
    this.#fixedToken = token !== undefined;
    this.#getToken = getToken;
    this.#refreshMargin = refreshMargin;
  }

  /** Whether there is a `getToken()` to get fresh tokens from. */
  get renewable(): boolean {
    return this.#getToken !== undefined;
  }

  /** The current token was found expired (the server said so). */
  markStale(): void {
    this.#stale = true;
  }

  /**
   * The token for the next connect: `getToken()` when there is no fixed token
   * or the current one expired, else the current one (the fixed token, or the
   * last one a refresh installed).
   */
  next(): Promise<TokenOutcome> {
    if (this.#expires !== undefined && this.#host.now() >= this.#expires) this.#stale = true;
    if (this.#getToken !== undefined && (!this.#fixedToken || this.#stale)) return this.#callGetToken();
    return Promise.resolve({ ok: true, token: this.#token });
  }

  /** The token `next()` gave is the one a connect sends now. */
  use(token: string | undefined): void {
    if (token === this.#token) return;
    this.#token = token;
    this.#stale = false;
    this.#expires = undefined;
  }

  /** `connection` connected; its token expires at `expires` (ms since the epoch), when the server said. */
  connected(connection: Connection, expires: number | undefined): void {
    this.#expires = typeof expires === 'number' ? expires : undefined;
    this.#scheduleRefresh(connection, expires);
  }

  #scheduleRefresh(connection: Connection, expires: number | undefined): void {
    clearTimer(this.#host.timers, connection.refreshTimer);
    connection.refreshTimer = undefined;
    if (typeof expires !== 'number' || this.#getToken === undefined) return;
    const lifetime = expires - this.#host.now();
    const margin = this.#refreshMargin ?? Math.max(MIN_REFRESH_MARGIN, lifetime * DEFAULT_REFRESH_RATIO);
    this.#refreshAfter(connection, Math.max(0, lifetime - margin), expires);
  }

  #refreshAfter(connection: Connection, delay: number, expires: number): void {
    const step = Math.min(delay, MAX_TIMER_DELAY);
    connection.refreshTimer = this.#host.timers.setTimeout(() => {
      if (connection !== this.#host.current()) return;
      if (step < delay) this.#refreshAfter(connection, delay - step, expires);
      else void this.#refresh(connection, expires);
    }, step);
  }

  /** Gets a fresh token and sends `refresh`; tries again later on transient failures. */
  async #refresh(connection: Connection, expires: number): Promise<void> {
    const outcome = await this.#callGetToken();
    if (connection !== this.#host.current()) return;
    if (!outcome.ok) {
      this.#host.error(asError(outcome.error));
      this.#retryRefresh(connection, expires);
      return;
    }
    const token = outcome.token ?? '';
    const id = connection.nextId++;
    connection.pending.set(id, {
      onResult: (result) => {
        this.#token = token;
        this.#stale = false;
        this.connected(connection, (result as RefreshResult).expires);
      },
      onError: (error) => {
        if (error.code === ClientErrorCode.Disconnected || error.code === ClientErrorCode.Closed) return;
        this.#host.error(error);
        if (!TOKEN_REFUSALS.has(error.code)) this.#retryRefresh(connection, expires);
      },
    });
    this.#host.write(connection, { type: 'refresh', id, token });
  }

  #callGetToken(): Promise<TokenOutcome> {
    const getToken = this.#getToken!;
    return Promise.resolve()
      .then(() => getToken())
      .then(
        (token): TokenOutcome => ({ ok: true, token }),
        (error: unknown): TokenOutcome => ({ ok: false, error }),
      );
  }

  #retryRefresh(connection: Connection, expires: number): void {
    if (connection !== this.#host.current() || this.#host.now() >= expires) return;
    clearTimer(this.#host.timers, connection.refreshTimer);
    connection.refreshTimer = this.#host.timers.setTimeout(() => {
      if (connection === this.#host.current()) void this.#refresh(connection, expires);
    }, DEFAULT_REFRESH_RETRY);
  }
}
