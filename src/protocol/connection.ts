/**
 * The WebSocket connection after the opening handshake, as a sans-I/O state
 * machine (RFC 6455 §5-7), for either role.
 *
 * Bytes from the transport go in through `receiveData()` / `receiveEof()`;
 * what happens comes out through the handler: messages, pings, pongs, the
 * peer's close frame, protocol violations, bytes to write and the moment to
 * close the transport. Calls (`sendText`, `sendPing`, `sendClose`, ...) turn
 * into bytes through the same handler. It owns no socket and no timer: the
 * I/O layer above feeds it and runs the timeouts.
 *
 * Closing: the first side to send a close frame waits for the other's; the
 * server closes the transport once both frames have crossed (§7.1.1), the
 * client waits for the server to do so. On a violation the connection sends a
 * close frame with the mapped code, stops reading and asks to close the
 * transport at once (§7.1.7).
 */
import { decodeClosePayload, encodeClosePayload } from './close.js';
import { CloseCode, LocalProtocolError, type RemoteProtocolError } from './errors.js';
import type { Extension } from './extension.js';
import { encodeFrame, encodeFrameToBuffer, FIN, MAX_CONTROL_PAYLOAD, Opcode } from './frame.js';
import { frameLimitsOf, type FrameLimits, type MessageLimits } from './limits.js';
import { randomMaskKey } from './mask-keys.js';
import { FrameParser, type ParserSink } from './parser.js';

export type Role = 'server' | 'client';

/** Ready states, numbered as in the WHATWG `WebSocket` API. */
export const ReadyState = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Largest payload a connection hands to `ConnectionHandler.writeFrame`. */
export const MAX_INLINE_FRAME_PAYLOAD = 16 * 1024;

export interface ConnectionHandler {
  /** Bytes to write to the transport, in order. */
  write(data: Uint8Array): void;
  /**
   * Optional: writes one unmasked frame of at most `MAX_INLINE_FRAME_PAYLOAD`
   * payload bytes, given its first header byte (FIN, RSV, opcode) and its
   * payload, in order with `write`. The handler encodes it where it likes
   * (e.g. straight into its output buffer) and copies the payload before it
   * returns. Without it, frames are encoded into buffers of their own.
   */
  writeFrame?(first: number, payload: Uint8Array): void;
  /** Close the transport once the bytes written so far are flushed. Called once. */
  end(): void;
  /** A complete message; text messages hold valid UTF-8. */
  message?(data: Buffer, binary: boolean): void;
  /** A ping arrived (already answered when `autoPong` is on). */
  ping?(payload: Buffer): void;
  pong?(payload: Buffer): void;
  /** The peer's close frame arrived (1005 when it carried no code). */
  closeFrame?(code: number, reason: string): void;
  /** The peer broke the protocol; a close frame with `error.closeCode` was sent. */
  violation?(error: RemoteProtocolError): void;
}

export interface ConnectionOptions extends MessageLimits {
  role: Role;
  /** Negotiated extensions, in negotiation order. */
  extensions?: readonly Extension[];
  /** Answer pings with pongs automatically. Default true. */
  autoPong?: boolean;
  /** Source of mask keys (client role). Default: cryptographically random. */
  maskKey?: () => Uint8Array;
}

export interface SendOptions {
  /** False for all but the last fragment. Default true. */
  fin?: boolean;
  /** False to skip compression for this message when an extension compresses. */
  compress?: boolean;
}

/** How the connection ended, for close events. */
export interface CloseStatus {
  /** The peer's code; 1005 if its close frame had none; 1006 if none arrived. */
  code: number;
  reason: string;
  /** True when close frames crossed both ways before the transport closed. */
  wasClean: boolean;
}

// Bits of `Connection.flags`.
/** Input is ignored (`stopReceiving()`, the peer's close frame, a violation, `fail()`, end of input). */
const INPUT_STOPPED = 1;
/** Pings are answered with pongs. */
const AUTO_PONG = 2;
/** `handler.end()` was called. */
const ENDED = 4;
/** A data message arrived: the parser is kept from then on (see `parser`). */
const DATA_SEEN = 8;

export class Connection implements ParserSink {
  readonly role: Role;
  private readonly handler: ConnectionHandler;
  /**
   * Created with the first bytes from the peer: a connection that has
   * received nothing holds no parser state, only the shared `limits`. Until
   * the first data message it is dropped again between frames, so that a
   * connection that only answers heartbeats (pongs) holds none either.
   */
  private parser: FrameParser | null = null;
  private readonly limits: FrameLimits;
  /** INPUT_STOPPED, AUTO_PONG and ENDED. */
  private flags: number;
  /** Negotiated extensions, in negotiation order. */
  readonly extensions: readonly Extension[];
  private readonly maskKeySource: (() => Uint8Array) | null;

  private readyState: ReadyState = ReadyState.OPEN;
  private sendingOpcode = 0;
  /** Close frame we sent, if any. */
  sentClose: { code: number; reason: string } | null = null;
  /** Close frame the peer sent, if any. */
  receivedClose: { code: number; reason: string } | null = null;
  /** The violation that failed the connection, if any. */
  error: RemoteProtocolError | null = null;

  constructor(options: ConnectionOptions, handler: ConnectionHandler) {
    this.role = options.role;
    this.handler = handler;
    // An empty list from the handshake is not kept: every connection without extensions shares one.
    this.extensions = options.extensions !== undefined && options.extensions.length > 0 ? options.extensions : NO_EXTENSIONS;
    this.flags = (options.autoPong ?? true) ? AUTO_PONG : 0;
    this.maskKeySource = options.role === 'client' ? (options.maskKey ?? randomMaskKey) : null;
    this.limits = frameLimitsOf(options);
  }

  private createParser(): FrameParser {
    return new FrameParser({ expectMasked: this.role === 'server', extensions: this.extensions }, this, this.limits);
  }

  /**
   * Names how this connection encodes a message when that depends on the
   * message alone: '' without extensions, the extensions' keys otherwise.
   * Server connections with equal keys can share the frames of
   * `encodeMessage` (a broadcast framed and compressed once). Null when an
   * extension keeps per-connection state (e.g. deflate context takeover).
   */
  get sharedEncodingKey(): string | null {
    return encodingKeyOf(this.extensions);
  }

  get state(): ReadyState {
    return this.readyState;
  }

  /** How the connection ended (meaningful once CLOSED). */
  get closeStatus(): CloseStatus {
    if (this.receivedClose) {
      return { code: this.receivedClose.code, reason: this.receivedClose.reason, wasClean: this.sentClose !== null };
    }
    return { code: CloseCode.ABNORMAL, reason: '', wasClean: false };
  }

  // ------------------------------------------------------------ receiving

  /** Feeds bytes from the transport. Takes ownership of `chunk`; never throws on bad input. */
  receiveData(chunk: Buffer): void {
    if ((this.flags & INPUT_STOPPED) !== 0 || chunk.length === 0) return;
    const parser = (this.parser ??= this.createParser());
    parser.write(chunk);
    if ((this.flags & DATA_SEEN) === 0 && parser.atRest && this.parser === parser) this.parser = null;
  }

  /** False once input is ignored: after a violation, the peer's close frame, `fail()` or `stopReceiving()`. */
  get receiving(): boolean {
    return (this.flags & INPUT_STOPPED) === 0;
  }

  /** Ignores all further input (drops what is buffered): no more messages or control frames are reported. */
  stopReceiving(): void {
    this.flags |= INPUT_STOPPED;
    this.parser?.stop();
  }

  /** Bytes of input held until a frame or message completes (see `FrameParser.heldBytes`). */
  get bufferedInput(): number {
    return this.parser === null ? 0 : this.parser.heldBytes;
  }

  /** The transport reached end of input, or closed. */
  receiveEof(): void {
    this.stopReceiving();
    this.readyState = ReadyState.CLOSED;
  }

  /** @internal The parser's sink: a complete message. */
  onMessage(data: Buffer, binary: boolean): void {
    this.flags |= DATA_SEEN;
    this.handler.message?.(data, binary);
  }

  /** @internal The parser's sink: a complete control frame. */
  onControl(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.PING) {
      if ((this.flags & AUTO_PONG) !== 0 && this.readyState === ReadyState.OPEN) this.writeFrame(Opcode.PONG, payload, true, 0);
      this.handler.ping?.(payload);
    } else if (opcode === Opcode.PONG) {
      this.handler.pong?.(payload);
    } else {
      this.onCloseFrame(payload);
    }
  }

  private onCloseFrame(payload: Buffer): void {
    let close;
    try {
      close = decodeClosePayload(payload);
    } catch (error) {
      this.onViolation(error as RemoteProtocolError);
      return;
    }
    this.receivedClose = close;
    this.stopReceiving();
    this.handler.closeFrame?.(close.code, close.reason);
    if (this.sentClose === null) {
      // Echo the peer's code and reason (§5.5.1); an empty close is answered with an empty close.
      if (close.code === CloseCode.NO_STATUS) this.writeClose(undefined, '');
      else this.writeClose(close.code, close.reason);
    }
    this.readyState = ReadyState.CLOSING;
    if (this.role === 'server') this.endTransport();
  }

  /** @internal The parser's sink: the peer broke the protocol. */
  onViolation(error: RemoteProtocolError): void {
    if (this.error || this.readyState === ReadyState.CLOSED) return;
    this.error = error;
    this.stopReceiving();
    this.handler.violation?.(error);
    if (this.sentClose === null) this.writeClose(error.closeCode, '');
    this.readyState = ReadyState.CLOSING;
    this.endTransport();
  }

  // ------------------------------------------------------------ sending

  private requireOpen(): void {
    if (this.readyState !== ReadyState.OPEN || this.sentClose !== null) {
      throw new LocalProtocolError('SB_ERR_INVALID_STATE', 'the connection is closing or closed');
    }
  }

  /** Sends a text message (or its first fragment when `fin` is false). */
  sendText(data: string | Uint8Array, options: SendOptions = {}): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.sendMessage(Opcode.TEXT, bytes, options);
  }

  /** Sends a binary message (or its first fragment when `fin` is false). */
  sendBinary(data: Uint8Array, options: SendOptions = {}): void {
    this.sendMessage(Opcode.BINARY, data, options);
  }

  /** Sends the next fragment of the message started with `fin: false`. */
  sendContinuation(data: Uint8Array, fin: boolean): void {
    this.requireOpen();
    if (this.sendingOpcode === 0) throw new LocalProtocolError('SB_ERR_NOT_IN_MESSAGE', 'no fragmented message to continue');
    this.writeFrame(Opcode.CONTINUATION, data, fin, 0);
    if (fin) this.sendingOpcode = 0;
  }

  private sendMessage(opcode: Opcode, data: Uint8Array, options: SendOptions): void {
    this.requireOpen();
    if (this.sendingOpcode !== 0) throw new LocalProtocolError('SB_ERR_IN_MESSAGE', 'a fragmented message is being sent');
    const fin = options.fin ?? true;
    if (this.extensions.length === 0) {
      this.writeFrame(opcode, data, fin, 0);
      if (!fin) this.sendingOpcode = opcode;
      return;
    }
    // Extensions transform whole messages; fragments started by the caller go as they are.
    const encoded = fin ? this.applyExtensions(data, opcode === Opcode.BINARY, options.compress) : { data, rsv: 0 };
    this.writeFrame(opcode, encoded.data, fin, encoded.rsv);
    if (!fin) this.sendingOpcode = opcode;
  }

  private applyExtensions(data: Uint8Array, binary: boolean, compress: boolean | undefined): { data: Uint8Array; rsv: number } {
    let rsv = 0;
    for (const extension of this.extensions) {
      const encoded = extension.encode(data, binary, { compress });
      data = encoded.data;
      rsv |= encoded.rsv;
    }
    return { data, rsv };
  }

  /**
   * The frame of a complete message as this (server) connection would send
   * it, without sending it. When `sharedEncodingKey` is not null, the bytes
   * are valid for every server connection with the same key (`sendFrames`).
   */
  encodeMessage(data: Uint8Array, binary: boolean): Buffer {
    if (this.role !== 'server') throw new LocalProtocolError('SB_ERR_INVALID_STATE', 'only server frames can be shared');
    const encoded = this.applyExtensions(data, binary, undefined);
    return encodeFrameToBuffer(binary ? Opcode.BINARY : Opcode.TEXT, encoded.data, { rsv: encoded.rsv });
  }

  /**
   * Writes already-encoded frames of complete messages (e.g. a broadcast
   * framed once for many server connections). The caller guarantees they are
   * valid for this connection: unmasked for a server, masked for a client.
   */
  sendFrames(frames: Uint8Array): void {
    this.requireOpen();
    if (this.sendingOpcode !== 0) throw new LocalProtocolError('SB_ERR_IN_MESSAGE', 'a fragmented message is being sent');
    this.handler.write(frames);
  }

  sendPing(payload: Uint8Array = EMPTY_PAYLOAD): void {
    this.requireOpen();
    this.checkControlPayload(payload);
    this.writeFrame(Opcode.PING, payload, true, 0);
  }

  sendPong(payload: Uint8Array = EMPTY_PAYLOAD): void {
    this.requireOpen();
    this.checkControlPayload(payload);
    this.writeFrame(Opcode.PONG, payload, true, 0);
  }

  /**
   * Starts (or answers) the closing handshake. Without a code the close frame
   * is empty. Does nothing when a close frame was already sent. Throws
   * `LocalProtocolError` for a code that may not be sent or a reason over 123 bytes.
   */
  sendClose(code?: number, reason = ''): void {
    if (this.sentClose !== null || this.readyState === ReadyState.CLOSED) return;
    this.writeClose(code, reason);
    this.readyState = ReadyState.CLOSING;
    if (this.receivedClose !== null && this.role === 'server') this.endTransport();
  }

  /**
   * Fails the connection from this side (e.g. a policy violation detected
   * above the protocol): sends a close frame, stops reading, closes the transport.
   */
  fail(code: number = CloseCode.POLICY_VIOLATION, reason = ''): void {
    if (this.readyState === ReadyState.CLOSED) return;
    if (this.sentClose === null) this.writeClose(code, reason);
    this.stopReceiving();
    this.readyState = ReadyState.CLOSING;
    this.endTransport();
  }

  private writeClose(code: number | undefined, reason: string): void {
    const payload = encodeClosePayload(code, reason);
    this.sentClose = { code: code ?? CloseCode.NO_STATUS, reason };
    this.writeFrame(Opcode.CLOSE, payload, true, 0);
  }

  private checkControlPayload(payload: Uint8Array): void {
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new LocalProtocolError('SB_ERR_CONTROL_PAYLOAD_TOO_LONG', `control payload of ${payload.length} bytes (max ${MAX_CONTROL_PAYLOAD})`);
    }
  }

  private writeFrame(opcode: Opcode, payload: Uint8Array, fin: boolean, rsv: number): void {
    if (this.maskKeySource === null && payload.length <= MAX_INLINE_FRAME_PAYLOAD && this.handler.writeFrame !== undefined) {
      this.handler.writeFrame((fin ? FIN : 0) | rsv | opcode, payload);
      return;
    }
    const maskKey = this.maskKeySource ? this.maskKeySource() : null;
    const frame = encodeFrame(opcode, payload, { fin, rsv, maskKey });
    if (Array.isArray(frame)) {
      this.handler.write(frame[0]);
      this.handler.write(frame[1]);
    } else {
      this.handler.write(frame);
    }
  }

  private endTransport(): void {
    if ((this.flags & ENDED) !== 0) return;
    this.flags |= ENDED;
    this.handler.end();
  }
}

const EMPTY_PAYLOAD = new Uint8Array(0);

/**
 * The shared encoding key of a list of extensions (see `sharedEncodingKey`):
 * no string is built without extensions or with one (the common cases).
 */
function encodingKeyOf(extensions: readonly Extension[]): string | null {
  if (extensions.length === 0) return '';
  if (extensions.length === 1) return extensions[0]!.sharedEncodingKey;
  if (!extensions.every((extension) => extension.sharedEncodingKey !== null)) return null;
  return extensions.map((extension) => extension.sharedEncodingKey).join('|');
}
const NO_EXTENSIONS: readonly Extension[] = Object.freeze([]);
