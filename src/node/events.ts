/**
 * Event classes of the client `WebSocket` that Node 20 lacks as globals.
 *
 * `Event` and `MessageEvent` are Node globals and are used as they are.
 * `CloseEvent` follows the WHATWG definition (code, reason, wasClean).
 * `ErrorEvent` is the event dispatched as 'error': a plain `Event` for code
 * written against the standard, which also carries the `Error` that failed
 * the connection (a `HandshakeError`, a `RemoteProtocolError`, ...).
 *
 * The public types here name no type of the DOM lib, so that the shipped
 * declarations compile in a Node project without it (`lib: ["ES2022"]`,
 * `types: ["node"]`): the dictionaries and listener types the API needs are
 * declared below, and `TypedMessageEvent` types a `MessageEvent`'s data
 * (Node's global `MessageEvent` type is not generic).
 */

/** The WHATWG `EventInit` dictionary (what `new Event(type, init)` takes). */
export interface EventInitLike {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** Options of `addEventListener` (the WHATWG `AddEventListenerOptions`), or `capture` as a boolean. */
export type ListenerOptions = boolean | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal };

/** Options of `removeEventListener` (the WHATWG `EventListenerOptions`), or `capture` as a boolean. */
export type RemoveListenerOptions = boolean | { capture?: boolean };

/** A listener for any event type (the WHATWG `EventListenerOrEventListenerObject`). */
export type AnyEventListener = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };

/**
 * A `MessageEvent` whose `data` has the type `T`: the global `MessageEvent`
 * (Node's, or the DOM's when that lib is loaded) with `data` narrowed.
 */
export interface TypedMessageEvent<T> extends Omit<MessageEvent, 'data'> {
  readonly data: T;
}

/** Initialisation dictionary of `CloseEvent` (WHATWG `CloseEventInit`). */
export interface CloseEventInit extends EventInitLike {
  /** Close code; default 0. */
  code?: number;
  /** Close reason; default "". */
  reason?: string;
  /** True when the closing handshake completed; default false. */
  wasClean?: boolean;
}

/** Converts to a WebIDL `unsigned short` (modulo 2^16, as `[EnforceRange]`-less IDL does). */
function toUnsignedShort(value: number): number {
  const number = Math.trunc(Number(value));
  return Number.isFinite(number) ? ((number % 65536) + 65536) % 65536 : 0;
}

/** Fired as 'close' when the connection is closed (WHATWG `CloseEvent`). */
export class CloseEvent extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#code = toUnsignedShort(init.code ?? 0);
    this.#reason = String(init.reason ?? '');
    this.#wasClean = Boolean(init.wasClean);
  }

  /** The close code the peer sent (1005 if its close frame had none), or 1006 for an abnormal closure. */
  get code(): number {
    return this.#code;
  }

  /** The close reason the peer sent, or "". */
  get reason(): string {
    return this.#reason;
  }

  /** True when close frames were exchanged both ways before the transport closed. */
  get wasClean(): boolean {
    return this.#wasClean;
  }
}

/** Initialisation dictionary of `ErrorEvent` (a subset of the HTML `ErrorEventInit`). */
export interface ErrorEventInit extends EventInitLike {
  message?: string;
  error?: Error;
}

/** Fired as 'error' before 'close' when a connection fails; `error` says why. */
export class ErrorEvent extends Event {
  readonly #message: string;
  readonly #error: Error | undefined;

  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.#error = init.error;
    this.#message = String(init.message ?? init.error?.message ?? '');
  }

  /** A description of the failure. */
  get message(): string {
    return this.#message;
  }

  /** The error that failed the connection. */
  get error(): Error | undefined {
    return this.#error;
  }
}
