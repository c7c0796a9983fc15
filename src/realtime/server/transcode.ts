/**
 * Publication data from one encoding to the other, byte to byte: a
 * MessagePack value written out as JSON text, and JSON text written out as
 * MessagePack, without building the value in between. A client of the other
 * codec gets exactly what decoding and encoding again would give it (the
 * same value once decoded; docs/protocol.md §5.2), at the cost of one pass
 * over the bytes — so serving a hostile publication (32,000 empty maps in
 * 32 KB) to a client of the other codec allocates no object per map.
 *
 * What the walkers do not handle (MessagePack extension types such as
 * timestamps, map keys other than strings and numbers, input that is not
 * what the encoders write) goes the slow way: decoded and encoded once.
 */
import { decode as decodeMsgpack, encode as encodeMsgpack } from '@msgpack/msgpack';
import { isEncodedFor, type EncodedValue, type ValueEncoding } from '../wire/encoded.js';

/** The walkers met something they leave to decoding and encoding again. */
class Unsupported extends Error {}

/** Deeper than this, the walkers give up (stored data is nested far less: docs/protocol.md §9). */
const MAX_DEPTH = 128;

const utf8 = new TextDecoder('utf-8');

/** The value in `codec`'s encoding: itself when it already is, else transcoded. */
export function transcode(value: EncodedValue, codec: ValueEncoding): EncodedValue {
  if (isEncodedFor(value, codec)) return value;
  return typeof value === 'string' ? jsonToMsgpack(value) : msgpackToJson(value);
}

// ------------------------------------------------------------ MessagePack → JSON

/** The JSON text of a MessagePack value (as `JSON.stringify(decode(bytes))`). */
export function msgpackToJson(bytes: Uint8Array): string {
  try {
    const reader = new MsgpackReader(bytes);
    const parts: string[] = [];
    reader.value(parts, 0);
    if (reader.position !== bytes.length) throw new Unsupported('bytes after the value');
    return parts.join('');
  } catch (error) {
    if (!(error instanceof Unsupported) && !(error instanceof RangeError)) throw error;
    return JSON.stringify(decodeMsgpack(bytes));
  }
}

class MsgpackReader {
  position = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Appends the JSON of the value at `position` to `out`. */
  value(out: string[], depth: number): void {
    if (depth > MAX_DEPTH) throw new Unsupported('too deep');
    const byte = this.u8();
    if (byte <= 0x7f) return void out.push(String(byte));
    if (byte >= 0xe0) return void out.push(String(byte - 0x100));
    if (byte >= 0x80 && byte <= 0x8f) return this.map(out, byte & 0x0f, depth);
    if (byte >= 0x90 && byte <= 0x9f) return this.array(out, byte & 0x0f, depth);
    if (byte >= 0xa0 && byte <= 0xbf) return void out.push(JSON.stringify(this.text(byte & 0x1f)));
    switch (byte) {
      case 0xc0:
        return void out.push('null');
      case 0xc2:
        return void out.push('false');
      case 0xc3:
        return void out.push('true');
      case 0xc4:
        return this.binary(out, this.u8());
      case 0xc5:
        return this.binary(out, this.u16());
      case 0xc6:
        return this.binary(out, this.u32());
      case 0xca:
        return void out.push(numberJson(this.read(4, (at) => this.view.getFloat32(at))));
      case 0xcb:
        return void out.push(numberJson(this.read(8, (at) => this.view.getFloat64(at))));
      case 0xcc:
        return void out.push(String(this.u8()));
      case 0xcd:
        return void out.push(String(this.u16()));
      case 0xce:
        return void out.push(String(this.u32()));
      case 0xcf:
        return void out.push(numberJson(this.read(8, (at) => this.view.getUint32(at) * 2 ** 32 + this.view.getUint32(at + 4))));
      case 0xd0:
        return void out.push(String(this.read(1, (at) => this.view.getInt8(at))));
      case 0xd1:
        return void out.push(String(this.read(2, (at) => this.view.getInt16(at))));
      case 0xd2:
        return void out.push(String(this.read(4, (at) => this.view.getInt32(at))));
      case 0xd3:
        return void out.push(numberJson(this.read(8, (at) => this.view.getInt32(at) * 2 ** 32 + this.view.getUint32(at + 4))));
      case 0xd9:
        return void out.push(JSON.stringify(this.text(this.u8())));
      case 0xda:
        return void out.push(JSON.stringify(this.text(this.u16())));
      case 0xdb:
        return void out.push(JSON.stringify(this.text(this.u32())));
      case 0xdc:
        return this.array(out, this.u16(), depth);
      case 0xdd:
        return this.array(out, this.u32(), depth);
      case 0xde:
        return this.map(out, this.u16(), depth);
      case 0xdf:
        return this.map(out, this.u32(), depth);
      default:
        // Extension types (timestamps and others) and the unused 0xc1.
        throw new Unsupported(`type 0x${byte.toString(16)}`);
    }
  }

  private array(out: string[], count: number, depth: number): void {
    out.push('[');
    for (let index = 0; index < count; index++) {
      if (index > 0) out.push(',');
      this.value(out, depth + 1);
    }
    out.push(']');
  }

  private map(out: string[], count: number, depth: number): void {
    out.push('{');
    for (let index = 0; index < count; index++) {
      if (index > 0) out.push(',');
      out.push(JSON.stringify(this.key()), ':');
      this.value(out, depth + 1);
    }
    out.push('}');
  }

  /** A map key as the decoder makes it: a string, or a number (which an object key turns into its string). */
  private key(): string {
    const byte = this.bytes[this.position];
    if (byte === undefined) throw new Unsupported('truncated');
    if ((byte >= 0xa0 && byte <= 0xbf) || byte === 0xd9 || byte === 0xda || byte === 0xdb) {
      this.position++;
      const length = byte <= 0xbf ? byte & 0x1f : byte === 0xd9 ? this.u8() : byte === 0xda ? this.u16() : this.u32();
      return this.text(length);
    }
    const parts: string[] = [];
    const start = this.position;
    this.value(parts, MAX_DEPTH);
    const text = parts.join('');
    // Only numbers are keys besides strings.
    if (!/^-?[0-9]/.test(text) || this.bytes[start]! === 0xc0) throw new Unsupported('a map key that is not a string or a number');
    return text;
  }

  /** A Uint8Array as JSON.stringify writes one: an object of its indices. */
  private binary(out: string[], length: number): void {
    const end = this.position + length;
    if (end > this.bytes.length) throw new Unsupported('truncated');
    let text = '{';
    for (let index = 0; index < length; index++) text += `${index > 0 ? ',' : ''}"${index}":${this.bytes[this.position + index]!}`;
    out.push(`${text}}`);
    this.position = end;
  }

  private text(length: number): string {
    const end = this.position + length;
    if (end > this.bytes.length) throw new Unsupported('truncated');
    const text = utf8.decode(this.bytes.subarray(this.position, end));
    this.position = end;
    return text;
  }

  private u8(): number {
    const byte = this.bytes[this.position++];
    if (byte === undefined) throw new Unsupported('truncated');
    return byte;
  }

  private u16(): number {
    return this.read(2, (at) => this.view.getUint16(at));
  }

  private u32(): number {
    return this.read(4, (at) => this.view.getUint32(at));
  }

  private read(size: number, get: (at: number) => number): number {
    const at = this.position;
    if (at + size > this.bytes.length) throw new Unsupported('truncated');
    this.position = at + size;
    return get(at);
  }
}

/** A number as JSON.stringify writes it (NaN and infinities as null). */
function numberJson(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

// ------------------------------------------------------------ JSON → MessagePack

/** The MessagePack of a JSON text (as `encode(JSON.parse(text))`, maps and arrays with 32-bit headers). */
export function jsonToMsgpack(text: string): Uint8Array {
  try {
    const parser = new JsonWalker(text);
    parser.value(0);
    parser.skipSpace();
    if (parser.position !== text.length) throw new Unsupported('text after the value');
    return parser.out.result();
  } catch (error) {
    if (!(error instanceof Unsupported)) throw error;
    return encodeMsgpack(JSON.parse(text), { ignoreUndefined: true }).slice();
  }
}

/** A growing byte buffer. */
class ByteWriter {
  private bytes = Buffer.allocUnsafe(256);
  length = 0;

  reserve(size: number): void {
    if (this.length + size <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.length + size) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  u16(value: number): void {
    this.reserve(2);
    this.bytes.writeUInt16BE(value, this.length);
    this.length += 2;
  }

  u32(value: number): void {
    this.reserve(4);
    this.bytes.writeUInt32BE(value, this.length);
    this.length += 4;
  }

  /** Writes a 32-bit count at `at` (a header written with a placeholder). */
  patchU32(at: number, value: number): void {
    this.bytes.writeUInt32BE(value, at);
  }

  f64(value: number): void {
    this.reserve(8);
    this.bytes.writeDoubleBE(value, this.length);
    this.length += 8;
  }

  string(value: string): void {
    const size = Buffer.byteLength(value, 'utf8');
    if (size < 32) this.byte(0xa0 | size);
    else if (size < 0x100) {
      this.byte(0xd9);
      this.byte(size);
    } else if (size < 0x10000) {
      this.byte(0xda);
      this.u16(size);
    } else {
      this.byte(0xdb);
      this.u32(size);
    }
    this.reserve(size);
    this.length += this.bytes.write(value, this.length, size, 'utf8');
  }

  /** The bytes written, in a buffer of their own size. */
  result(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.bytes, 0, this.length);
  }
}

/** Writes a number as @msgpack/msgpack's encoder does: safe integers in the smallest integer format, others as float64. */
function writeNumber(out: ByteWriter, value: number): void {
  if (!Number.isSafeInteger(value)) {
    out.byte(0xcb);
    return out.f64(value);
  }
  if (value >= 0) {
    if (value < 0x80) return out.byte(value);
    if (value < 0x100) return (out.byte(0xcc), out.byte(value));
    if (value < 0x10000) return (out.byte(0xcd), out.u16(value));
    if (value < 0x100000000) return (out.byte(0xce), out.u32(value));
    out.byte(0xcf);
    out.u32(Math.floor(value / 2 ** 32));
    return out.u32(value >>> 0);
  }
  if (value >= -32) return out.byte(0x100 + value);
  if (value >= -0x80) return (out.byte(0xd0), out.byte(value & 0xff));
  if (value >= -0x8000) return (out.byte(0xd1), out.u16(value & 0xffff));
  if (value >= -0x80000000) return (out.byte(0xd2), out.u32(value >>> 0));
  out.byte(0xd3);
  out.u32(Math.floor(value / 2 ** 32) >>> 0);
  out.u32(value >>> 0);
}

const NUMBER_CHAR = /[-+0-9.eE]/y;
const NUMBER_RUN = /[-+0-9.eE]+/y;
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/;

class JsonWalker {
  position = 0;
  readonly out = new ByteWriter();

  constructor(private readonly text: string) {}

  skipSpace(): void {
    const text = this.text;
    let at = this.position;
    for (;;) {
      const code = text.charCodeAt(at);
      if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) break;
      at++;
    }
    this.position = at;
  }

  value(depth: number): void {
    if (depth > MAX_DEPTH) throw new Unsupported('too deep');
    this.skipSpace();
    const code = this.text.charCodeAt(this.position);
    switch (code) {
      case 0x7b: // {
        return this.object(depth);
      case 0x5b: // [
        return this.array(depth);
      case 0x22: // "
        return this.out.string(this.stringToken());
      case 0x74: // t
        return this.literal('true', 0xc3);
      case 0x66: // f
        return this.literal('false', 0xc2);
      case 0x6e: // n
        return this.literal('null', 0xc0);
      default:
        return this.number();
    }
  }

  private object(depth: number): void {
    this.position++;
    const out = this.out;
    out.byte(0xdf);
    const countAt = out.length;
    out.u32(0);
    let count = 0;
    this.skipSpace();
    if (this.text.charCodeAt(this.position) === 0x7d) {
      this.position++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.position) !== 0x22) throw new Unsupported('a key must be a string');
      out.string(this.stringToken());
      this.skipSpace();
      if (this.text.charCodeAt(this.position++) !== 0x3a) throw new Unsupported('expected :');
      this.value(depth + 1);
      count++;
      this.skipSpace();
      const next = this.text.charCodeAt(this.position++);
      if (next === 0x7d) break;
      if (next !== 0x2c) throw new Unsupported('expected , or }');
    }
    out.patchU32(countAt, count);
  }

  private array(depth: number): void {
    this.position++;
    const out = this.out;
    out.byte(0xdd);
    const countAt = out.length;
    out.u32(0);
    let count = 0;
    this.skipSpace();
    if (this.text.charCodeAt(this.position) === 0x5d) {
      this.position++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
      count++;
      this.skipSpace();
      const next = this.text.charCodeAt(this.position++);
      if (next === 0x5d) break;
      if (next !== 0x2c) throw new Unsupported('expected , or ]');
    }
    out.patchU32(countAt, count);
  }

  /** The string whose opening quote is at `position`. */
  private stringToken(): string {
    const text = this.text;
    const start = this.position;
    let at = start + 1;
    let escaped = false;
    for (;;) {
      const code = text.charCodeAt(at);
      if (Number.isNaN(code)) throw new Unsupported('unterminated string');
      if (code === 0x22) break;
      if (code === 0x5c) {
        escaped = true;
        at += 2;
        continue;
      }
      if (code < 0x20) throw new Unsupported('a control character in a string');
      at++;
    }
    this.position = at + 1;
    return escaped ? (JSON.parse(text.slice(start, at + 1)) as string) : text.slice(start + 1, at);
  }

  private literal(word: string, byte: number): void {
    if (!this.text.startsWith(word, this.position)) throw new Unsupported('not JSON');
    this.position += word.length;
    this.out.byte(byte);
  }

  private number(): void {
    NUMBER_CHAR.lastIndex = this.position;
    if (!NUMBER_CHAR.test(this.text)) throw new Unsupported('not JSON');
    NUMBER_RUN.lastIndex = this.position;
    NUMBER_RUN.test(this.text);
    const token = this.text.slice(this.position, NUMBER_RUN.lastIndex);
    if (!JSON_NUMBER.test(token)) throw new Unsupported('not a JSON number');
    this.position = NUMBER_RUN.lastIndex;
    writeNumber(this.out, Number(token));
  }
}
