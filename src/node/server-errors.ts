/**
 * Errors raised by `WebSocketServer` itself (as opposed to one connection or
 * one handshake), each with a stable code.
 */
import { SwitchboardError } from '../protocol/errors.js';

export type ServerErrorCode =
  /** The options are contradictory or out of range (thrown by the constructor). */
  | 'SB_ERR_INVALID_OPTIONS'
  /** The server has no address: it does not listen (yet), or runs in `noServer` mode. */
  | 'SB_ERR_NOT_LISTENING'
  /** The server was closed. */
  | 'SB_ERR_SERVER_CLOSED'
  /** `reloadTls` on a server that does not serve TLS. */
  | 'SB_ERR_NOT_TLS';

/** A misuse or state error of a `WebSocketServer`. */
export class ServerError extends SwitchboardError {
  declare readonly code: ServerErrorCode;
  constructor(code: ServerErrorCode, message: string) {
    super(code, message);
  }
}
