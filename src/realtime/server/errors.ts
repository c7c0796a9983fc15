/**
 * Errors of the real-time server. `RpcError` is the one error type that
 * becomes an error reply: method handlers throw it with their own code, the
 * server throws it with a code of docs/protocol.md §8, and `Session.call`
 * rejects with it. Anything else a handler throws becomes `internal`.
 */
import { ErrorCode } from '../wire/errors.js';
import type { ErrorBody } from '../wire/messages.js';

/**
 * An error with a protocol error code. Thrown by a method handler, it is sent
 * to the client as `{code, message, data}`; `Session.call` rejects with one
 * holding the client's code, or `timeout` / `disconnected`.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  /** A code of docs/protocol.md §8, or the application's own. */
  readonly code: string;
  /** Optional detail, sent to the client. */
  readonly data?: unknown;

  constructor(code: string, message: string, data?: unknown) {
    super(message);
    this.code = code;
    if (data !== undefined) this.data = data;
  }

  /** The `error` object of a reply. */
  toBody(): ErrorBody {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

/**
 * Refuses a command (or a `connect`) and then ends the connection with
 * `closeCode` (3000-4999) and `reason`: thrown by a hook, e.g. when a
 * proxy backend answers `disconnect`. The reply carries `code` and the reason.
 */
export class DisconnectError extends RpcError {
  readonly closeCode: number;
  readonly reason: string;

  constructor(closeCode: number, reason: string, code: string = ErrorCode.Forbidden) {
    if (!Number.isInteger(closeCode) || closeCode < 3000 || closeCode > 4999) throw new RangeError(`a disconnect code is 3000-4999, got ${closeCode}`);
    super(code, reason === '' ? 'disconnected by the server' : reason);
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** The error code `Session.call` rejects with when the connection ended before the reply. */
export const DISCONNECTED = 'disconnected';

/** The reply body for a failure: an `RpcError` as it is, anything else as `internal` (no detail leaks). */
export function errorBodyOf(error: unknown): ErrorBody {
  if (error instanceof RpcError) return error.toBody();
  return { code: ErrorCode.Internal, message: 'internal server error' };
}

/** Shorthands for the errors the server itself raises. */
export const fail = {
  badRequest: (message: string): RpcError => new RpcError(ErrorCode.BadRequest, message),
  unauthorized: (message = 'unauthorized'): RpcError => new RpcError(ErrorCode.Unauthorized, message),
  forbidden: (message: string): RpcError => new RpcError(ErrorCode.Forbidden, message),
  notFound: (message: string): RpcError => new RpcError(ErrorCode.NotFound, message),
  unavailable: (message: string): RpcError => new RpcError(ErrorCode.Unavailable, message),
  brokerUnavailable: (): RpcError => new RpcError(ErrorCode.BrokerUnavailable, 'the broker is unavailable; nothing was done'),
};

/** Turns an `Error` of unknown origin into an `Error` (for the server's 'error' event). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
