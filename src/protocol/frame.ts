/**
 * Frame layout of RFC 6455 §5.2: opcodes, header encoding and masking.
 *
 *   0                   1                   2                   3
 *  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 */
import { applyMask } from './mask.js';

export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

export const FIN = 0x80;
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;
export const RSV_MASK = RSV1 | RSV2 | RSV3;
export const MASK_BIT = 0x80;

/** Control frames carry at most 125 bytes of payload (§5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** Size of the header of a frame with this payload length. */
export function headerSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset just
 * after it. `first` holds FIN, RSV and opcode bits as they go on the wire.
 */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  first: number,
  payloadLength: number,
  maskKey: Uint8Array | null,
): number {
  target[offset++] = first;
  const maskBit = maskKey ? MASK_BIT : 0;
  if (payloadLength < 126) {
    target[offset++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    target[offset++] = maskBit | 126;
    target[offset++] = payloadLength >>> 8;
    target[offset++] = payloadLength & 0xff;
  } else {
    target[offset++] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[offset++] = 0;
    target[offset++] = 0;
    target[offset++] = (high >>> 8) & 0xff;
    target[offset++] = high & 0xff;
    target[offset++] = low >>> 24;
    target[offset++] = (low >>> 16) & 0xff;
    target[offset++] = (low >>> 8) & 0xff;
    target[offset++] = low & 0xff;
  }
  if (maskKey) {
    target[offset++] = maskKey[0]!;
    target[offset++] = maskKey[1]!;
    target[offset++] = maskKey[2]!;
    target[offset++] = maskKey[3]!;
  }
  return offset;
}

export { applyMask } from './mask.js';

export interface FrameOptions {
  /** FIN bit; false for all but the last fragment of a message. Default true. */
  fin?: boolean;
  /** RSV bits (RSV1 | RSV2 | RSV3) claimed by a negotiated extension. Default 0. */
  rsv?: number;
  /** Mask key (client to server frames); null or absent for unmasked frames. */
  maskKey?: Uint8Array | null;
}

/** Payloads up to this size are copied next to their header in one buffer. */
const COPY_THRESHOLD = 16 * 1024;

/**
 * Encodes one frame. Returns one buffer for small or masked payloads, and
 * `[header, payload]` for large unmasked payloads so that they are not copied.
 * The payload is never modified.
 */
export function encodeFrame(opcode: Opcode, payload: Uint8Array, options: FrameOptions = {}): Buffer | [Buffer, Uint8Array] {
  const fin = options.fin ?? true;
  const first = (fin ? FIN : 0) | (options.rsv ?? 0) | opcode;
  const maskKey = options.maskKey ?? null;
  const length = payload.length;
  const size = headerSize(length, maskKey !== null);
  if (maskKey === null && length > COPY_THRESHOLD) {
    const header = Buffer.allocUnsafe(size);
    writeHeader(header, 0, first, length, null);
    return [header, payload];
  }
  const frame = Buffer.allocUnsafe(size + length);
  const offset = writeHeader(frame, 0, first, length, maskKey);
  if (maskKey === null) frame.set(payload, offset);
  else applyMask(payload, 0, length, frame, offset, maskKey, 0);
  return frame;
}

/** `encodeFrame` as a single buffer (copies large payloads). */
export function encodeFrameToBuffer(opcode: Opcode, payload: Uint8Array, options: FrameOptions = {}): Buffer {
  const out = encodeFrame(opcode, payload, options);
  return Array.isArray(out) ? Buffer.concat(out) : out;
}
