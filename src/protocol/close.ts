/**
 * Close frames (RFC 6455 §5.5.1, §7.4): which codes may travel on the wire,
 * and how a close payload is encoded and decoded.
 */
import { LocalProtocolError, RemoteProtocolError } from './errors.js';
import { isValidUtf8 } from './utf8.js';

/** Longest close reason in bytes: 125 bytes of control payload minus the code. */
export const MAX_CLOSE_REASON = 123;

/**
 * True for the codes a peer may send in a close frame: 1000-1003, 1007-1014
 * (RFC 6455 and the IANA registry) and 3000-4999 (libraries, applications).
 * 1004-1006 and 1015 are reserved and must never be sent.
 */
export function isValidWireCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
  );
}

export interface ClosePayload {
  /** The status code, or 1005 (no status) for an empty close payload. */
  code: number;
  reason: string;
}

/** Decodes a received close payload; throws `RemoteProtocolError` when it is invalid. */
export function decodeClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: 1005, reason: '' };
  if (payload.length === 1) {
    throw new RemoteProtocolError('SB_ERR_INVALID_CLOSE_PAYLOAD', 'close payload of 1 byte');
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) {
    throw new RemoteProtocolError('SB_ERR_INVALID_CLOSE_CODE', `invalid close code ${code}`);
  }
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    throw new RemoteProtocolError('SB_ERR_INVALID_UTF8', 'close reason is not valid UTF-8');
  }
  return { code, reason: Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString('utf8') };
}

/**
 * Encodes a close payload to send. `code` undefined sends an empty payload
 * (no status); a reason requires a code. Throws `LocalProtocolError` for a
 * code that may not be sent or a reason longer than 123 bytes.
 */
export function encodeClosePayload(code?: number, reason = ''): Buffer {
  if (code === undefined) {
    if (reason !== '') throw new LocalProtocolError('SB_ERR_INVALID_CLOSE_CODE', 'a close reason needs a code');
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !isValidWireCloseCode(code)) {
    throw new LocalProtocolError('SB_ERR_INVALID_CLOSE_CODE', `close code ${code} may not be sent`);
  }
  const reasonLength = Buffer.byteLength(reason);
  if (reasonLength > MAX_CLOSE_REASON) {
    throw new LocalProtocolError('SB_ERR_CLOSE_REASON_TOO_LONG', `close reason of ${reasonLength} bytes (max ${MAX_CLOSE_REASON})`);
  }
  const payload = Buffer.allocUnsafe(2 + reasonLength);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.write(reason, 2, 'utf8');
  return payload;
}
