/**
 * Typed errors of the protocol core.
 *
 * Two families, after h11: a `RemoteProtocolError` means the peer broke the
 * protocol (it maps to the close code we send, or to the HTTP status we answer
 * during the handshake); a `LocalProtocolError` means the caller asked for
 * something the protocol forbids (it is thrown synchronously to the caller).
 * Every error carries a stable `code` string that is part of the public API.
 */

/** Close codes of RFC 6455 §7.4.1 and the IANA registry that the core uses. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  TLS_HANDSHAKE: 1015,
} as const;

/** Stable codes of errors caused by the peer, with the close code each maps to. */
export const RemoteErrorCodes = {
  SB_ERR_RESERVED_BITS: CloseCode.PROTOCOL_ERROR,
  SB_ERR_INVALID_OPCODE: CloseCode.PROTOCOL_ERROR,
  SB_ERR_UNMASKED_FRAME: CloseCode.PROTOCOL_ERROR,
  SB_ERR_MASKED_FRAME: CloseCode.PROTOCOL_ERROR,
  SB_ERR_INVALID_LENGTH: CloseCode.PROTOCOL_ERROR,
  SB_ERR_CONTROL_FRAME_TOO_LONG: CloseCode.PROTOCOL_ERROR,
  SB_ERR_FRAGMENTED_CONTROL_FRAME: CloseCode.PROTOCOL_ERROR,
  SB_ERR_UNEXPECTED_CONTINUATION: CloseCode.PROTOCOL_ERROR,
  SB_ERR_EXPECTED_CONTINUATION: CloseCode.PROTOCOL_ERROR,
  SB_ERR_INVALID_CLOSE_PAYLOAD: CloseCode.PROTOCOL_ERROR,
  SB_ERR_INVALID_CLOSE_CODE: CloseCode.PROTOCOL_ERROR,
  SB_ERR_EXTENSION: CloseCode.PROTOCOL_ERROR,
  SB_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD,
  SB_ERR_INFLATE_FAILED: CloseCode.INVALID_PAYLOAD,
  SB_ERR_FRAME_TOO_LARGE: CloseCode.MESSAGE_TOO_BIG,
  SB_ERR_MESSAGE_TOO_LARGE: CloseCode.MESSAGE_TOO_BIG,
  SB_ERR_TOO_MANY_FRAGMENTS: CloseCode.MESSAGE_TOO_BIG,
} as const;

export type RemoteErrorCode = keyof typeof RemoteErrorCodes;

/** Base class of every error Switchboard raises on purpose. */
export class SwitchboardError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The peer broke RFC 6455 (or a negotiated extension) after the handshake. */
export class RemoteProtocolError extends SwitchboardError {
  declare readonly code: RemoteErrorCode;
  /** The close code sent to the peer because of this error. */
  readonly closeCode: number;
  constructor(code: RemoteErrorCode, message: string) {
    super(code, message);
    this.closeCode = RemoteErrorCodes[code];
  }
}

/** Stable codes of caller mistakes. */
export type LocalErrorCode =
  | 'SB_ERR_INVALID_STATE'
  | 'SB_ERR_INVALID_CLOSE_CODE'
  | 'SB_ERR_CLOSE_REASON_TOO_LONG'
  | 'SB_ERR_CONTROL_PAYLOAD_TOO_LONG'
  | 'SB_ERR_NOT_IN_MESSAGE'
  | 'SB_ERR_IN_MESSAGE'
  | 'SB_ERR_INVALID_ARGUMENT';

/** The caller asked for something the protocol forbids; thrown synchronously. */
export class LocalProtocolError extends SwitchboardError {
  declare readonly code: LocalErrorCode;
  constructor(code: LocalErrorCode, message: string) {
    super(code, message);
  }
}

/** Stable codes of handshake failures. */
export type HandshakeErrorCode =
  | 'SB_ERR_HTTP_METHOD'
  | 'SB_ERR_HTTP_VERSION'
  | 'SB_ERR_HTTP_SYNTAX'
  | 'SB_ERR_HTTP_HEADERS_TOO_LARGE'
  | 'SB_ERR_HTTP_URI_TOO_LONG'
  | 'SB_ERR_MISSING_HOST'
  | 'SB_ERR_INVALID_HOST'
  | 'SB_ERR_FORBIDDEN_HOST'
  | 'SB_ERR_TOO_MANY_HANDSHAKES'
  | 'SB_ERR_TOO_MANY_CONNECTIONS'
  | 'SB_ERR_NOT_UPGRADE'
  | 'SB_ERR_INVALID_KEY'
  | 'SB_ERR_UNSUPPORTED_VERSION'
  | 'SB_ERR_INVALID_SUBPROTOCOL'
  | 'SB_ERR_INVALID_EXTENSION'
  | 'SB_ERR_FORBIDDEN_ORIGIN'
  | 'SB_ERR_REJECTED'
  | 'SB_ERR_UNEXPECTED_STATUS'
  | 'SB_ERR_INVALID_ACCEPT'
  | 'SB_ERR_UNEXPECTED_SUBPROTOCOL'
  | 'SB_ERR_UNEXPECTED_EXTENSION'
  | 'SB_ERR_HANDSHAKE_TIMEOUT';

/** Header list as it goes on the wire: names keep their case, order is kept. */
export type HeaderList = Array<[name: string, value: string]>;

/**
 * The handshake failed. On the server side, `status` and `headers` are the
 * HTTP response to send; on the client side, `status` is the status received
 * (0 when no response was parsed).
 */
export class HandshakeError extends SwitchboardError {
  declare readonly code: HandshakeErrorCode;
  readonly status: number;
  readonly headers: HeaderList;
  constructor(code: HandshakeErrorCode, status: number, message: string, headers: HeaderList = []) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
}
