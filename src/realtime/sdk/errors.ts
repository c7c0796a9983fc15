/**
 * Errors of the client SDK: every failure a caller sees is a `RealtimeError`
 * with a string `code` — one of the protocol's reply codes (docs/protocol.md
 * §8), an application's own RPC code, or one of `ClientErrorCode`.
 */
import type { ErrorBody } from '../wire/messages.js';

/** Codes the SDK itself produces, next to the protocol's `ErrorCode`. */
export const ClientErrorCode = {
  /** The offline queue is full (`maxOfflineQueue`). */
  QueueFull: 'queue_full',
  /** `close()` was called: the client is finished. */
  Closed: 'closed',
  /** No reply within the command's timeout (queue time included). */
  Timeout: 'timeout',
  /** The connection dropped while the command was in flight; it may or may not have run. */
  Disconnected: 'disconnected',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** A failed command, refused subscription or lost connection. */
export class RealtimeError extends Error {
  override readonly name = 'RealtimeError';
  /** A protocol error code (`forbidden`, `not_found`, ...), an application's RPC code, or a `ClientErrorCode`. */
  readonly code: string;
  /** Optional detail (the reply's `error.data`, or e.g. the close code of a disconnect). */
  readonly data?: unknown;

  constructor(code: string, message: string, data?: unknown) {
    super(message);
    this.code = code;
    if (data !== undefined) this.data = data;
  }

  /** The error of an error reply. */
  static fromBody(body: ErrorBody): RealtimeError {
    return new RealtimeError(String(body.code), typeof body.message === 'string' ? body.message : String(body.code), body.data);
  }
}

/** Whether `value` is a protocol error body `{code, message, data?}`. */
export function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string';
}

/**
 * The error body a client sends back when its handler of a server `call`
 * failed: the code and data of a `RealtimeError` (or of any error with a string
 * `code`), else `internal`.
 */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof RealtimeError) {
    return error.data === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, data: error.data };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' && code !== '' ? code : 'internal', message: error.message };
  }
  return { code: 'internal', message: String(error) };
}

/** `value` as an Error (a thrown non-Error is wrapped). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
