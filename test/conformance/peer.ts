/**
 * The conformance test peer's own wire code: a small RFC 6455 frame encoder
 * and decoder and the raw opening handshake, written from the RFC and
 * independent of src/protocol, so that what our implementation writes is
 * checked by code that does not share its bugs. Nothing here imports src/.
 *
 * The decoder is strict about what it reads (it is the judge of our output):
 * minimal length encoding, masking as the role requires, no RSV bits (no
 * extension is negotiated), known opcodes, control-frame rules, fragment
 * order, UTF-8 text and valid close payloads. Every deviation is recorded as
 * a protocol error; it never throws.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** RSV bits as they sit in the first header byte. */
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;

/** A frame the peer sends, before encoding. */
export interface FrameSpec {
  opcode: number;
  payload: Buffer;
  fin: boolean;
  /** RSV bits (RSV1 | RSV2 | RSV3). */
  rsv: number;
  /** Force masking on (true) or off (false); default: as the sending role requires. */
  masked?: boolean;
  /**
   * Raw length field (the 7-bit length, then any extended length bytes), to
   * declare a length other than the payload's (a header for a frame that is
   * never completed, a 64-bit length with its top bit set).
   */
  lengthField?: number[];
}

// ---------------------------------------------------------------- encoding

/** Mask keys come from a random pool: cheap for 65 536 one-byte fragments. */
let keyPool = Buffer.alloc(0);
let keyOffset = 0;
function nextMaskKey(): Buffer {
  if (keyOffset + 4 > keyPool.length) {
    keyPool = randomBytes(64 * 1024);
    keyOffset = 0;
  }
  const key = Buffer.from(keyPool.subarray(keyOffset, keyOffset + 4));
  keyOffset += 4;
  return key;
}

/** The length field of RFC 6455 §5.2 (7 bits, then 16 or 64 bits), minimal as the RFC requires. */
export function lengthField(length: number): number[] {
  if (length < 126) return [length];
  if (length < 0x10000) return [126, length >>> 8, length & 0xff];
  const high = Math.floor(length / 0x100000000);
  const low = length >>> 0;
  return [127, (high >>> 24) & 0xff, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff, low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff];
}

/** XOR with a 4-byte key (RFC 6455 §5.3); masking and unmasking are the same operation. */
export function mask(data: Buffer, key: Uint8Array, out: Buffer = Buffer.allocUnsafe(data.length), offset = 0): Buffer {
  const n = data.length;
  let i = 0;
  if (n >= 64) {
    // Word at a time where alignment allows: 16 MiB payloads are masked in well under a second.
    const k32 = Buffer.from([key[0]!, key[1]!, key[2]!, key[3]!]).readUInt32LE(0);
    const words = n >>> 2;
    for (; i < words * 4; i += 4) out.writeUInt32LE((data.readUInt32LE(i) ^ k32) >>> 0, offset + i);
  }
  for (; i < n; i++) out[offset + i] = data[i]! ^ key[i & 3]!;
  return out;
}

/** Encodes one frame. `masked` is what the role requires; `spec.masked` overrides it. */
export function encodeFrame(spec: FrameSpec, masked: boolean): Buffer {
  const useMask = spec.masked ?? masked;
  const len = spec.lengthField ?? lengthField(spec.payload.length);
  const headerSize = 1 + len.length + (useMask ? 4 : 0);
  const out = Buffer.allocUnsafe(headerSize + spec.payload.length);
  out[0] = (spec.fin ? 0x80 : 0) | spec.rsv | spec.opcode;
  out[1] = (useMask ? 0x80 : 0) | len[0]!;
  for (let i = 1; i < len.length; i++) out[1 + i] = len[i]!;
  if (useMask) {
    const key = nextMaskKey();
    key.copy(out, 1 + len.length);
    mask(spec.payload, key, out, headerSize);
  } else {
    spec.payload.copy(out, headerSize);
  }
  return out;
}

/** Size of the header `encodeFrame` writes for this frame. */
export function encodedHeaderSize(spec: FrameSpec, masked: boolean): number {
  const len = spec.lengthField ?? lengthField(spec.payload.length);
  return 1 + len.length + ((spec.masked ?? masked) ? 4 : 0);
}

// ---------------------------------------------------------------- decoding

export interface DecodedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The mask key, if masked. */
  maskKey: Buffer | null;
  /** Unmasked payload. */
  payload: Buffer;
}

/** A chunk queue read without copying until a whole frame is there. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes (n <= length), copied only when they span chunks. */
  peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const merged = Buffer.concat(this.chunks, this.length);
    this.chunks = [merged];
    return merged.subarray(0, n);
  }

  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const head = this.chunks[0]!;
      const count = Math.min(head.length, n - written);
      head.copy(out, written, 0, count);
      written += count;
      if (count === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(count);
    }
    this.length -= n;
    return out;
  }
}

/**
 * Decodes the frames our implementation writes. `expectMasked` is true when
 * reading a client (our client must mask), false when reading a server.
 */
export class FrameDecoder {
  readonly errors: string[] = [];
  private readonly queue = new ByteQueue();
  private readonly expectMasked: boolean;

  constructor(expectMasked: boolean) {
    this.expectMasked = expectMasked;
  }

  push(chunk: Buffer): DecodedFrame[] {
    this.queue.push(chunk);
    const frames: DecodedFrame[] = [];
    for (;;) {
      const frame = this.next();
      if (frame === null) return frames;
      frames.push(frame);
    }
  }

  private next(): DecodedFrame | null {
    const q = this.queue;
    if (q.length < 2) return null;
    const head = q.peek(2);
    const b0 = head[0]!;
    const b1 = head[1]!;
    const masked = (b1 & 0x80) !== 0;
    const code = b1 & 0x7f;
    const extra = code === 126 ? 2 : code === 127 ? 8 : 0;
    const headerSize = 2 + extra + (masked ? 4 : 0);
    if (q.length < headerSize) return null;
    const header = q.peek(headerSize);
    let length = code;
    if (code === 126) {
      length = header.readUInt16BE(2);
      if (length < 126) this.errors.push(`non-minimal 16-bit length ${length}`);
    } else if (code === 127) {
      const high = header.readUInt32BE(2);
      if (high & 0x80000000) this.errors.push('64-bit length with the most significant bit set');
      length = high * 0x100000000 + header.readUInt32BE(6);
      if (length < 0x10000) this.errors.push(`non-minimal 64-bit length ${length}`);
    }
    if (q.length < headerSize + length) return null;
    q.take(headerSize);
    const maskKey = masked ? Buffer.from(header.subarray(headerSize - 4, headerSize)) : null;
    let payload = q.take(length);
    if (maskKey) payload = mask(payload, maskKey, payload);
    const frame: DecodedFrame = { fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, maskKey, payload };
    this.check(frame);
    return frame;
  }

  private check(frame: DecodedFrame): void {
    if (frame.masked !== this.expectMasked) {
      this.errors.push(this.expectMasked ? 'unmasked frame from a client (§5.1)' : 'masked frame from a server (§5.1)');
    }
    if (frame.rsv !== 0) this.errors.push(`RSV bits 0x${frame.rsv.toString(16)} set with no extension negotiated (§5.2)`);
    const known = [OP.CONT, OP.TEXT, OP.BINARY, OP.CLOSE, OP.PING, OP.PONG] as number[];
    if (!known.includes(frame.opcode)) this.errors.push(`reserved opcode ${frame.opcode} (§5.2)`);
    if (frame.opcode >= 0x8) {
      if (!frame.fin) this.errors.push(`fragmented control frame, opcode ${frame.opcode} (§5.5)`);
      if (frame.payload.length > 125) this.errors.push(`control frame of ${frame.payload.length} bytes (§5.5)`);
    }
  }
}

// ---------------------------------------------------------------- close payloads, UTF-8

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 check (WHATWG decoder in fatal mode: RFC 3629, no surrogates, no overlongs). */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    fatalUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Close codes an endpoint may put on the wire (RFC 6455 §7.4, IANA registry). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** A close payload: status code (2 bytes, big-endian) then a UTF-8 reason (§5.5.1). */
export function closePayload(code?: number, reason: string | Buffer = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  const out = Buffer.allocUnsafe(2 + reasonBytes.length);
  out.writeUInt16BE(code, 0);
  reasonBytes.copy(out, 2);
  return out;
}

export interface DecodedClose {
  /** null for an empty close payload. */
  code: number | null;
  reason: string;
  errors: string[];
}

export function decodeClose(payload: Buffer): DecodedClose {
  if (payload.length === 0) return { code: null, reason: '', errors: [] };
  if (payload.length === 1) return { code: null, reason: '', errors: ['close payload of 1 byte (§5.5.1)'] };
  const code = payload.readUInt16BE(0);
  const errors: string[] = [];
  if (!isSendableCloseCode(code)) errors.push(`close code ${code} may not be sent (§7.4)`);
  const reasonBytes = payload.subarray(2);
  if (!isUtf8(reasonBytes)) errors.push('close reason is not UTF-8 (§5.5.1)');
  return { code, reason: reasonBytes.toString('utf8'), errors };
}

// ---------------------------------------------------------------- opening handshake

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a key (RFC 6455 §4.2.2 step 5.4). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export interface HttpHead {
  /** Request line or status line. */
  startLine: string;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Map<string, string>;
}

function parseHead(text: string): HttpHead {
  const lines = text.split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { startLine: lines[0] ?? '', headers };
}

function hasToken(value: string | undefined, token: string): boolean {
  return (value ?? '').split(',').some((part) => part.trim().toLowerCase() === token);
}

/**
 * Reads an HTTP head off the socket; resolves with it and the bytes after it.
 * The socket is left paused so that no byte is lost before the next reader attaches.
 */
export function readHead(socket: Socket, timeout = 5000): Promise<{ head: HttpHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no complete HTTP head within ${timeout} ms (got ${JSON.stringify(buffered.toString('latin1'))})`));
    }, timeout);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffered.length > 16 * 1024) {
          cleanup();
          reject(new Error('HTTP head over 16 KiB'));
        }
        return;
      }
      cleanup();
      socket.pause();
      try {
        resolve({ head: parseHead(buffered.subarray(0, end).toString('latin1')), rest: buffered.subarray(end + 4) });
      } catch (error) {
        reject(error as Error);
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(`connection closed during the handshake (got ${JSON.stringify(buffered.toString('latin1'))})`));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}

/** The client's opening handshake request (RFC 6455 §4.1), for a fresh random key. */
export function handshakeRequest(host: string, path = '/'): { key: string; bytes: Buffer } {
  const key = randomBytes(16).toString('base64');
  const text = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    '',
    '',
  ].join('\r\n');
  return { key, bytes: Buffer.from(text, 'latin1') };
}

/** Checks a server's handshake response (RFC 6455 §4.1, client steps 1-4); throws on a mismatch. */
export function checkHandshakeResponse(head: HttpHead, key: string): void {
  const status = /^HTTP\/1\.1 (\d{3})(?: |$)/.exec(head.startLine);
  if (!status || status[1] !== '101') throw new Error(`expected "HTTP/1.1 101", got ${JSON.stringify(head.startLine)}`);
  if (!hasToken(head.headers.get('upgrade'), 'websocket')) throw new Error('response lacks "Upgrade: websocket"');
  if (!hasToken(head.headers.get('connection'), 'upgrade')) throw new Error('response lacks "Connection: Upgrade"');
  if (head.headers.get('sec-websocket-accept') !== acceptFor(key)) throw new Error('wrong Sec-WebSocket-Accept');
  if (head.headers.has('sec-websocket-extensions')) throw new Error('server negotiated an extension that was not offered');
  if (head.headers.has('sec-websocket-protocol')) throw new Error('server selected a subprotocol that was not offered');
}

/**
 * Checks a client's handshake request (RFC 6455 §4.1, requirements 2-9) and
 * returns the 101 response to send; throws on a mismatch.
 */
export function answerHandshakeRequest(head: HttpHead): Buffer {
  if (!/^GET \S+ HTTP\/1\.1$/.test(head.startLine)) throw new Error(`bad request line ${JSON.stringify(head.startLine)}`);
  if (!head.headers.get('host')) throw new Error('request lacks Host');
  if (!hasToken(head.headers.get('upgrade'), 'websocket')) throw new Error('request lacks "Upgrade: websocket"');
  if (!hasToken(head.headers.get('connection'), 'upgrade')) throw new Error('request lacks "Connection: Upgrade"');
  if (head.headers.get('sec-websocket-version') !== '13') throw new Error('request lacks "Sec-WebSocket-Version: 13"');
  const key = head.headers.get('sec-websocket-key') ?? '';
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key) || Buffer.from(key, 'base64').length !== 16) {
    throw new Error(`Sec-WebSocket-Key ${JSON.stringify(key)} is not base64 of 16 bytes`);
  }
  const text = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptFor(key)}`,
    '',
    '',
  ].join('\r\n');
  return Buffer.from(text, 'latin1');
}
