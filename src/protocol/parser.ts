/**
 * The frame parser (RFC 6455 §5): bytes in, frames and messages out.
 *
 * It consumes chunks as they arrive without copying when a frame lies in one
 * chunk, unmasks in place, validates each header before buffering its payload
 * (reserved bits, opcodes, masking, control-frame rules, continuation order,
 * size limits), reassembles fragmented messages, runs negotiated extensions,
 * and validates text incrementally so that invalid UTF-8 fails at the first
 * offending byte, even inside a frame still arriving.
 *
 * On the first violation it reports a `RemoteProtocolError` once and then
 * discards all further input (§7.1.7). It never throws to its caller.
 */
import { RemoteProtocolError, type RemoteErrorCode } from './errors.js';
import type { Extension } from './extension.js';
import { applyMask, FIN, isControlOpcode, isKnownOpcode, MASK_BIT, MAX_CONTROL_PAYLOAD, Opcode, RSV_MASK } from './frame.js';
import { frameLimitsOf, type FrameLimits, type MessageLimits } from './limits.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

export interface ParserSink {
  /** A complete data message (after extension decoding; text is valid UTF-8). */
  onMessage(data: Buffer, binary: boolean): void;
  /** A complete control frame: close, ping or pong. */
  onControl(opcode: number, payload: Buffer): void;
  /** The peer broke the protocol; the parser has stopped. */
  onViolation(error: RemoteProtocolError): void;
}

export interface ParserOptions extends MessageLimits {
  /** True when frames must be masked (a server reading a client). */
  expectMasked: boolean;
  /** Negotiated extensions, in the order they were negotiated. */
  extensions?: readonly Extension[];
}

const EMPTY = Buffer.alloc(0);
const NO_EXTENSIONS: readonly Extension[] = Object.freeze([]);
/** The longest frame header: 2 bytes, a 64-bit length and a mask key. */
const MAX_HEADER = 14;
/** Pieces of a frame shorter than this are copied together (see `keepPiece`). */
const SMALL_PIECE = 4096;
/** Unmasking is synchronous, so one key buffer serves every parser. */
const SCRATCH_KEY = new Uint8Array(4);

const enum State {
  HEADER,
  PAYLOAD,
  STOPPED,
}

export class FrameParser {
  private readonly sink: ParserSink;
  private readonly expectMasked: boolean;
  /** Shared by every parser with the same limits (one reference, not five numbers per connection). */
  private readonly limits: FrameLimits;
  private readonly extensions: readonly Extension[];

  // Input queue: chunks[0] is read from `offset`.
  private chunks: Buffer[] = [];
  private offset = 0;
  private buffered = 0;

  private state = State.HEADER;

  // Current frame.
  private fin = false;
  private opcode = 0;
  private masked = false;
  /** The frame's mask key as a 32-bit big-endian number (no per-connection typed array). */
  private maskKey = 0;
  private remaining = 0;
  private received = 0;
  /** Pieces of a frame payload that arrived in several chunks (allocated when needed). */
  private pieces: Buffer[] | null = null;
  /** The block small pieces are copied into (its filled part is the last of `pieces`), and how full it is. */
  private tail: Buffer | null = null;
  private tailUsed = 0;

  // Current data message.
  private messageOpcode = 0;
  private messageRsv = 0;
  private messageSize = 0;
  /** Frames of a fragmented message so far (allocated when needed). */
  private fragments: Buffer[] | null = null;
  private fragmentCount = 0;
  /** State of text validated as it arrives; created for the first text message that needs it. */
  private utf8: Utf8Validator | null = null;
  private utf8Streaming = false;

  /** `limits`: the resolved limits to share, when the caller already has them (else resolved from `options`). */
  constructor(options: ParserOptions, sink: ParserSink, limits: FrameLimits = frameLimitsOf(options)) {
    this.sink = sink;
    this.expectMasked = options.expectMasked;
    this.limits = limits;
    this.extensions = options.extensions ?? NO_EXTENSIONS;
  }

  /**
   * True between frames with nothing held: no input left, no frame or
   * message in progress. The parser then keeps no state a new parser would
   * not have, so its owner may drop it and make another for the next bytes.
   */
  get atRest(): boolean {
    return this.state === State.HEADER && this.buffered === 0 && this.messageOpcode === 0;
  }

  get stopped(): boolean {
    return this.state === State.STOPPED;
  }

  /**
   * Bytes the parser holds: input not parsed yet, the pieces of a frame still
   * arriving and the fragments of a message still incomplete. Bounded by the
   * limits once `write` returns: `maxMessageSize` (its deflated bound for a
   * compressed message), plus a control frame
   * (125 bytes) arriving between fragments, plus an incomplete frame header.
   */
  get heldBytes(): number {
    // The pieces hold the current frame's bytes received so far; the fragments, the message's so far.
    return this.buffered + (this.pieces !== null ? this.received : 0) + (this.fragments !== null ? this.messageSize : 0);
  }

  /** Stops parsing and drops everything buffered; later input is ignored. */
  stop(): void {
    this.state = State.STOPPED;
    this.chunks = [];
    this.pieces = null;
    this.tail = null;
    this.fragments = null;
    this.buffered = 0;
  }

  /** Feeds bytes. The parser takes ownership of `chunk` (it unmasks in place). */
  write(chunk: Buffer): void {
    if (this.state === State.STOPPED || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered > 0 || (this.state === State.PAYLOAD && this.remaining === 0)) {
      if (this.state === State.HEADER) {
        if (!this.readHeader()) return;
      } else if (this.state === State.PAYLOAD) {
        this.readPayload();
      } else {
        return;
      }
    }
  }

  private violation(code: RemoteErrorCode, message: string): false {
    this.stop();
    this.sink.onViolation(new RemoteProtocolError(code, message));
    return false;
  }

  private byteAt(index: number): number {
    let i = this.offset + index;
    for (const chunk of this.chunks) {
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
    return 0;
  }

  private skip(count: number): void {
    this.buffered -= count;
    while (count > 0) {
      const head = this.chunks[0]!;
      const available = head.length - this.offset;
      if (count < available) {
        this.offset += count;
        return;
      }
      count -= available;
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Takes up to `count` bytes off the queue, without copying when they lie in one chunk. */
  private take(count: number): Buffer {
    const head = this.chunks[0]!;
    const available = head.length - this.offset;
    if (count <= available) {
      const out = head.subarray(this.offset, this.offset + count);
      this.skip(count);
      return out;
    }
    const out = Buffer.allocUnsafe(count);
    let written = 0;
    while (written < count) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length - this.offset, count - written);
      chunk.copy(out, written, this.offset, this.offset + n);
      written += n;
      this.skip(n);
    }
    return out;
  }

  /** Parses and validates one header; false when more bytes are needed or parsing stopped. */
  private readHeader(): boolean {
    const head = this.chunks[0];
    const at = this.offset;
    // The common case: the longest header fits in the first chunk, read in place.
    if (head === undefined || head.length - at < MAX_HEADER) return this.readHeaderAcross();
    const b0 = head[at]!;
    const b1 = head[at + 1]!;
    const lengthCode = b1 & 0x7f;
    if (lengthCode === 127) return this.readHeaderAcross();
    const masked = (b1 & MASK_BIT) !== 0;
    let size = 2;
    let length = lengthCode;
    if (lengthCode === 126) {
      length = (head[at + 2]! << 8) | head[at + 3]!;
      size = 4;
    }
    if (masked) {
      this.maskKey = ((head[at + size]! << 24) | (head[at + size + 1]! << 16) | (head[at + size + 2]! << 8) | head[at + size + 3]!) >>> 0;
      size += 4;
    }
    return this.acceptHeader(b0, masked, length, size);
  }

  /** `readHeader` for a header that may lie across chunks (or a 64-bit length). */
  private readHeaderAcross(): boolean {
    if (this.buffered < 2) return false;
    const b0 = this.byteAt(0);
    const b1 = this.byteAt(1);
    const lengthCode = b1 & 0x7f;
    const masked = (b1 & MASK_BIT) !== 0;
    const size = 2 + (lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (this.buffered < size) return false;
    let length = lengthCode;
    if (lengthCode === 126) {
      length = (this.byteAt(2) << 8) | this.byteAt(3);
    } else if (lengthCode === 127) {
      const high = this.byteAt(2) * 0x1000000 + ((this.byteAt(3) << 16) | (this.byteAt(4) << 8) | this.byteAt(5));
      const low = this.byteAt(6) * 0x1000000 + ((this.byteAt(7) << 16) | (this.byteAt(8) << 8) | this.byteAt(9));
      if (this.byteAt(2) & 0x80) return this.violation('SB_ERR_INVALID_LENGTH', 'frame length has its most significant bit set');
      length = high > 0x1fffff ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + low;
    }
    if (masked) {
      const k = size - 4;
      this.maskKey = ((this.byteAt(k) << 24) | (this.byteAt(k + 1) << 16) | (this.byteAt(k + 2) << 8) | this.byteAt(k + 3)) >>> 0;
    }
    return this.acceptHeader(b0, masked, length, size);
  }

  /** Checks a header read whole (`size` bytes, mask key stored) and starts its frame. */
  private acceptHeader(b0: number, masked: boolean, length: number, size: number): boolean {
    const fin = (b0 & FIN) !== 0;
    const rsv = b0 & RSV_MASK;
    const opcode = b0 & 0x0f;
    // The common frame, the first of an uncompressed message, needs only the
    // masking and size checks of `checkHeader`; anything else goes through it.
    const limits = this.limits;
    const plain =
      rsv === 0 &&
      (opcode === Opcode.BINARY || opcode === Opcode.TEXT) &&
      this.messageOpcode === 0 &&
      masked === this.expectMasked &&
      length <= limits.maxFrameSize &&
      this.messageSize + length <= limits.maxMessageSize &&
      this.fragmentCount + 1 <= limits.maxFragments;
    if (!plain && !this.checkHeader(fin, rsv, opcode, masked, length)) return false;
    this.skip(size);
    if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) {
      this.messageOpcode = opcode;
      this.messageRsv = rsv;
      // Text is validated piece by piece as it arrives, unless the whole message
      // is one frame already at hand (then the native whole-buffer check runs
      // once) or an extension encodes it (then the decoded message is checked).
      this.utf8Streaming = opcode === Opcode.TEXT && rsv === 0 && (!fin || this.buffered < length);
    } else if (opcode === Opcode.CONTINUATION && this.messageOpcode === Opcode.TEXT && this.messageRsv === 0) {
      this.utf8Streaming = true;
    }
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.remaining = length;
    this.received = 0;
    this.state = State.PAYLOAD;
    return true;
  }

  private checkHeader(fin: boolean, rsv: number, opcode: number, masked: boolean, length: number): boolean {
    if (!isKnownOpcode(opcode)) return this.violation('SB_ERR_INVALID_OPCODE', `unknown opcode ${opcode}`);
    const control = isControlOpcode(opcode);
    const firstOfMessage = opcode === Opcode.TEXT || opcode === Opcode.BINARY;
    if (rsv !== 0 && (!firstOfMessage || (rsv & ~rsvBitsOf(this.extensions)) !== 0)) {
      return this.violation('SB_ERR_RESERVED_BITS', `reserved bits 0x${rsv.toString(16)} set without an extension that uses them`);
    }
    if (masked !== this.expectMasked) {
      return this.expectMasked
        ? this.violation('SB_ERR_UNMASKED_FRAME', 'client frames must be masked')
        : this.violation('SB_ERR_MASKED_FRAME', 'server frames must not be masked');
    }
    if (control) {
      if (!fin) return this.violation('SB_ERR_FRAGMENTED_CONTROL_FRAME', 'control frames must not be fragmented');
      if (length > MAX_CONTROL_PAYLOAD) {
        return this.violation('SB_ERR_CONTROL_FRAME_TOO_LONG', `control frame of ${length} bytes (max ${MAX_CONTROL_PAYLOAD})`);
      }
      return true;
    }
    if (opcode === Opcode.CONTINUATION) {
      if (this.messageOpcode === 0) return this.violation('SB_ERR_UNEXPECTED_CONTINUATION', 'continuation frame without a message to continue');
    } else if (this.messageOpcode !== 0) {
      return this.violation('SB_ERR_EXPECTED_CONTINUATION', 'new data frame while a fragmented message is incomplete');
    }
    // A compressed message is held to the limits once decoded; on the wire, to their deflated bound.
    const compressed = (firstOfMessage ? rsv : this.messageRsv) !== 0;
    const limits = this.limits;
    const maxFrameSize = compressed ? limits.maxCompressedFrameSize : limits.maxFrameSize;
    const maxWireSize = compressed ? limits.maxCompressedMessageSize : limits.maxMessageSize;
    if (length > maxFrameSize) {
      return this.violation('SB_ERR_FRAME_TOO_LARGE', `frame of ${length} bytes (max ${maxFrameSize})`);
    }
    if (this.messageSize + length > maxWireSize) {
      return this.violation('SB_ERR_MESSAGE_TOO_LARGE', `message over ${maxWireSize} bytes on the wire`);
    }
    if (this.fragmentCount + 1 > limits.maxFragments) {
      return this.violation('SB_ERR_TOO_MANY_FRAGMENTS', `message of more than ${limits.maxFragments} frames`);
    }
    return true;
  }

  private readPayload(): void {
    const count = Math.min(this.remaining, this.buffered);
    const offset = this.received;
    this.received += count;
    this.remaining -= count;
    const validating = this.utf8Streaming && !isControlOpcode(this.opcode);
    // A frame arriving in pieces is unmasked once, into the buffer that assembles
    // it, instead of piece by piece and then copied; text being validated as it
    // arrives is the exception (the validator needs the unmasked bytes).
    const assembleUnmasked = this.masked && !validating && (this.remaining > 0 || this.pieces !== null);
    const unmask = this.masked && count > 0 && !assembleUnmasked;
    let piece: Buffer = EMPTY;
    if (count > 0) {
      const head = this.chunks[0]!;
      const at = this.offset;
      if (count <= head.length - at) {
        // Unmasked in place in the chunk itself, before the view is taken: the
        // frames of one read are all masked through the same chunk (see mask.ts).
        if (unmask) applyMask(head, at, at + count, head, at, this.loadMaskKey(), offset);
        piece = head.subarray(at, at + count);
        this.skip(count);
      } else {
        piece = this.take(count);
        if (unmask) applyMask(piece, 0, count, piece, 0, this.loadMaskKey(), offset);
      }
    }
    if (validating && !(this.utf8 ??= new Utf8Validator()).write(piece)) {
      this.violation('SB_ERR_INVALID_UTF8', 'text message is not valid UTF-8');
      return;
    }
    if (this.remaining > 0) {
      this.keepPiece(piece);
      return;
    }
    let payload = piece;
    if (this.pieces !== null) {
      this.pieces.push(piece);
      payload = assembleUnmasked ? this.unmaskInto(this.pieces, this.received) : Buffer.concat(this.pieces, this.received);
      this.pieces = null;
      this.tail = null;
    }
    this.state = State.HEADER;
    if (isControlOpcode(this.opcode)) this.sink.onControl(this.opcode, payload);
    else this.onDataFrame(payload);
  }

  /**
   * Keeps a piece of a frame still arriving. A peer may send a frame a few
   * bytes per TCP segment, and each chunk read from a socket is an object
   * of its own: small pieces are copied into blocks of up to
   * `SMALL_PIECE` bytes (never past the frame's end), so that memory stays
   * close to the bytes received instead of an object per chunk. Large
   * pieces are kept as they are.
   */
  private keepPiece(piece: Buffer): void {
    const pieces = (this.pieces ??= []);
    if (piece.length >= SMALL_PIECE) {
      this.tail = null;
      pieces.push(piece);
      return;
    }
    let tail = this.tail;
    if (tail === null || this.tailUsed + piece.length > tail.length) {
      tail = this.tail = Buffer.allocUnsafe(Math.max(piece.length, Math.min(SMALL_PIECE, piece.length + this.remaining)));
      this.tailUsed = 0;
      pieces.push(EMPTY);
    }
    piece.copy(tail, this.tailUsed);
    this.tailUsed += piece.length;
    pieces[pieces.length - 1] = tail.subarray(0, this.tailUsed);
  }

  /** The current frame's mask key, in the shared key buffer. */
  private loadMaskKey(): Uint8Array {
    SCRATCH_KEY[0] = this.maskKey >>> 24;
    SCRATCH_KEY[1] = (this.maskKey >>> 16) & 0xff;
    SCRATCH_KEY[2] = (this.maskKey >>> 8) & 0xff;
    SCRATCH_KEY[3] = this.maskKey & 0xff;
    return SCRATCH_KEY;
  }

  /** Assembles masked pieces into one new buffer, unmasking on the way. */
  private unmaskInto(pieces: Buffer[], total: number): Buffer {
    const payload = Buffer.allocUnsafe(total);
    const key = this.loadMaskKey();
    let offset = 0;
    for (const piece of pieces) {
      applyMask(piece, 0, piece.length, payload, offset, key, offset);
      offset += piece.length;
    }
    return payload;
  }

  private onDataFrame(payload: Buffer): void {
    if (this.fin && this.fragments === null && this.messageRsv === 0 && !this.utf8Streaming) {
      // A whole message in one uncompressed frame, not validated as it arrived: nothing to join or decode.
      const binary = this.messageOpcode === Opcode.BINARY;
      this.fragmentCount = 0;
      this.messageSize = 0;
      this.messageOpcode = 0;
      if (!binary && !isValidUtf8(payload)) {
        this.violation('SB_ERR_INVALID_UTF8', 'text message is not valid UTF-8');
        return;
      }
      this.sink.onMessage(payload, binary);
      return;
    }
    this.fragmentCount++;
    this.messageSize += payload.length;
    if (!this.fin) {
      if (payload.length > 0) (this.fragments ??= []).push(payload);
      return;
    }
    let data = payload;
    if (this.fragments !== null) {
      if (payload.length > 0) this.fragments.push(payload);
      data = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments, this.messageSize);
    }
    const binary = this.messageOpcode === Opcode.BINARY;
    const rsv = this.messageRsv;
    const streamed = this.utf8Streaming;
    this.fragments = null;
    this.fragmentCount = 0;
    this.messageSize = 0;
    this.messageOpcode = 0;
    this.messageRsv = 0;
    this.utf8Streaming = false;
    if (streamed && this.utf8 !== null) {
      const complete = this.utf8.complete;
      this.utf8.reset();
      if (!complete) {
        this.violation('SB_ERR_INVALID_UTF8', 'text message ends inside a UTF-8 sequence');
        return;
      }
    }
    if (rsv !== 0) {
      const decoded = this.decode(data, rsv, binary);
      if (decoded === null) return;
      data = decoded;
    }
    if (!binary && !streamed && !isValidUtf8(data)) {
      this.violation('SB_ERR_INVALID_UTF8', 'text message is not valid UTF-8');
      return;
    }
    this.sink.onMessage(data, binary);
  }

  /** Runs the negotiated extensions in reverse order; null after a violation. */
  private decode(data: Buffer, rsv: number, binary: boolean): Buffer | null {
    const maxMessageSize = this.limits.maxMessageSize;
    try {
      for (let i = this.extensions.length - 1; i >= 0; i--) data = this.extensions[i]!.decode(data, rsv, binary, maxMessageSize);
    } catch (error) {
      if (error instanceof RemoteProtocolError) this.violation(error.code, error.message);
      else this.violation('SB_ERR_EXTENSION', `extension failed: ${(error as Error).message}`);
      return null;
    }
    if (data.length > maxMessageSize) {
      this.violation('SB_ERR_MESSAGE_TOO_LARGE', `decoded message over ${maxMessageSize} bytes`);
      return null;
    }
    return data;
  }
}

/** The RSV bits the negotiated extensions use. */
function rsvBitsOf(extensions: readonly Extension[]): number {
  let bits = 0;
  for (const extension of extensions) bits |= extension.rsvBits;
  return bits;
}
