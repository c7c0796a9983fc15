/**
 * Errors raised by the Node layer, each with a stable code. Protocol errors
 * come from `switchboard/protocol` (`RemoteProtocolError`, `HandshakeError`).
 */
import { SwitchboardError } from '../protocol/errors.js';

export type NodeErrorCode =
  | 'SB_ERR_SLOW_CONSUMER'
  | 'SB_ERR_HEARTBEAT_TIMEOUT'
  | 'SB_ERR_PING_FLOOD'
  | 'SB_ERR_IDLE_TIMEOUT'
  | 'SB_ERR_CLOSE_TIMEOUT'
  | 'SB_ERR_SOCKET';

/** A socket-level failure of an established connection. */
export class ConnectionError extends SwitchboardError {
  declare readonly code: NodeErrorCode;
  /** Close code reported for it (1006 when no close frame could be exchanged). */
  readonly closeCode: number;
  constructor(code: NodeErrorCode, message: string, closeCode = 1006) {
    super(code, message);
    this.closeCode = closeCode;
  }
}
