/**
 * A sans-I/O parser for the head of an HTTP/1.1 message (start line and
 * header fields, RFC 9112 §2-5), as the opening handshake needs it: the client
 * parses the server's response with it; it also parses raw requests for
 * servers that read the socket themselves. Bytes go in, a parsed head and the
 * bytes after it come out. Sizes are bounded (431 / 414 on excess).
 */
import { HandshakeError, type HeaderList } from './errors.js';
import { isToken, type HeaderMap } from './headers.js';

export interface HttpHeadLimits {
  /** Largest head (start line + headers + blank line) in bytes. Default 16 KiB. */
  maxHeadSize?: number;
  /** Most header fields. Default 100. */
  maxHeaders?: number;
  /** Longest request line in bytes. Default 8 KiB. */
  maxRequestLine?: number;
}

export const DEFAULT_HTTP_HEAD_LIMITS: Required<HttpHeadLimits> = {
  maxHeadSize: 16 * 1024,
  maxHeaders: 100,
  maxRequestLine: 8 * 1024,
};

export interface HttpRequestHead {
  method: string;
  target: string;
  httpVersion: string;
  /** Lower-case names; repeated fields as arrays. */
  headers: HeaderMap;
  rawHeaders: HeaderList;
}

export interface HttpResponseHead {
  httpVersion: string;
  status: number;
  reason: string;
  headers: HeaderMap;
  rawHeaders: HeaderList;
}

export interface ParsedHead<T> {
  head: T;
  /** Bytes received after the blank line (they belong to the next protocol). */
  rest: Buffer;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** A control character other than HTAB (RFC 9110 §5.5: a field value holds none; Node's parser refuses them too). */
const FIELD_CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** `METHOD target HTTP/x.y`; the target holds no whitespace or control character. */
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP\/(\d\.\d)$/;
const EMPTY = Buffer.alloc(0);

function syntaxError(message: string): HandshakeError {
  return new HandshakeError('SB_ERR_HTTP_SYNTAX', 400, message);
}

/** Incremental head parser: call `feed` with each chunk until it returns a head. */
abstract class HeadParser<T> {
  /**
   * The bytes received so far, `size` of them, in a buffer that grows by
   * doubling: a head sent one byte at a time costs linear, not quadratic, time.
   */
  private buffer: Buffer = EMPTY;
  private size = 0;
  /** True once `buffer` is our own allocation (before that it may be the caller's first chunk). */
  private owned = false;
  /** Whether the start line's CRLF was seen (the 414 check stops then). */
  private startLineDone = false;
  protected readonly limits: Required<HttpHeadLimits>;

  constructor(limits?: HttpHeadLimits) {
    this.limits = limits === undefined ? DEFAULT_HTTP_HEAD_LIMITS : { ...DEFAULT_HTTP_HEAD_LIMITS, ...limits };
  }

  /** Returns the head once complete, else null. Throws `HandshakeError` on bad input. */
  feed(chunk: Uint8Array): ParsedHead<T> | null {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const searchFrom = Math.max(0, this.size - 3);
    this.append(bytes);
    const all = this.buffer.subarray(0, this.size);
    const end = all.indexOf(CRLFCRLF, searchFrom);
    if (end === -1) {
      this.checkIncomplete(all, searchFrom);
      return null;
    }
    if (end + 4 > this.limits.maxHeadSize) this.tooLarge();
    const head = this.parseHead(all.toString('latin1', 0, end));
    return { head, rest: all.subarray(end + 4) };
  }

  private append(bytes: Buffer): void {
    if (this.size === 0) {
      // The usual case, a head in one chunk: no copy.
      this.buffer = bytes;
      this.size = bytes.length;
      return;
    }
    const needed = this.size + bytes.length;
    if (!this.owned || needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.size * 2, 256));
      this.buffer.copy(grown, 0, 0, this.size);
      this.buffer = grown;
      this.owned = true;
    }
    bytes.copy(this.buffer, this.size);
    this.size = needed;
  }

  private checkIncomplete(all: Buffer, searchFrom: number): void {
    if (!this.startLineDone) {
      this.startLineDone = all.indexOf('\r\n', Math.max(0, searchFrom - 1)) !== -1;
      if (!this.startLineDone && all.length > this.limits.maxRequestLine) this.startLineTooLong();
    }
    if (all.length > this.limits.maxHeadSize) this.tooLarge();
  }

  protected startLineTooLong(): never {
    throw new HandshakeError('SB_ERR_HTTP_HEADERS_TOO_LARGE', 431, 'start line too long');
  }

  private tooLarge(): never {
    throw new HandshakeError('SB_ERR_HTTP_HEADERS_TOO_LARGE', 431, `HTTP head larger than ${this.limits.maxHeadSize} bytes`);
  }

  private parseHead(text: string): T {
    const lines = text.split('\r\n');
    const startLine = lines[0]!;
    const rawHeaders: HeaderList = [];
    // No prototype: a field named __proto__ or constructor is a field like any other.
    const headers: HeaderMap = Object.create(null) as HeaderMap;
    if (lines.length - 1 > this.limits.maxHeaders) {
      throw new HandshakeError('SB_ERR_HTTP_HEADERS_TOO_LARGE', 431, `more than ${this.limits.maxHeaders} header fields`);
    }
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw syntaxError(`malformed header line "${line.slice(0, 80)}"`);
      const name = line.slice(0, colon);
      if (!isToken(name)) throw syntaxError(`invalid header name "${name.slice(0, 80)}"`);
      const value = line.slice(colon + 1).trim();
      if (FIELD_CONTROL.test(value)) throw syntaxError(`invalid character in header ${name}`);
      rawHeaders.push([name, value]);
      const key = name.toLowerCase();
      const previous = headers[key];
      if (previous === undefined) headers[key] = value;
      else if (Array.isArray(previous)) previous.push(value);
      else headers[key] = [previous, value];
    }
    return this.parseStartLine(startLine, headers, rawHeaders);
  }

  protected abstract parseStartLine(line: string, headers: HeaderMap, rawHeaders: HeaderList): T;
}

/** Parses a request head: `METHOD target HTTP/x.y`. */
export class HttpRequestParser extends HeadParser<HttpRequestHead> {
  protected parseStartLine(line: string, headers: HeaderMap, rawHeaders: HeaderList): HttpRequestHead {
    if (line.length > this.limits.maxRequestLine) {
      throw new HandshakeError('SB_ERR_HTTP_URI_TOO_LONG', 414, 'request line too long');
    }
    const match = REQUEST_LINE.exec(line);
    if (!match) throw syntaxError(`malformed request line "${line.slice(0, 80)}"`);
    return { method: match[1]!, target: match[2]!, httpVersion: match[3]!, headers, rawHeaders };
  }

  protected override startLineTooLong(): never {
    throw new HandshakeError('SB_ERR_HTTP_URI_TOO_LONG', 414, 'request line too long');
  }
}

/** Parses a response head: `HTTP/x.y status reason`. */
export class HttpResponseParser extends HeadParser<HttpResponseHead> {
  protected parseStartLine(line: string, headers: HeaderMap, rawHeaders: HeaderList): HttpResponseHead {
    const match = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(line);
    if (!match) throw syntaxError(`malformed status line "${line.slice(0, 80)}"`);
    return { httpVersion: match[1]!, status: Number(match[2]), reason: match[3] ?? '', headers, rawHeaders };
  }
}

/** Serializes a response head (status line, headers, blank line). */
export function formatResponseHead(status: number, reason: string, headers: HeaderList): Buffer {
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return Buffer.from(text + '\r\n', 'latin1');
}

/** Serializes a request head. */
export function formatRequestHead(method: string, target: string, headers: HeaderList): Buffer {
  let text = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return Buffer.from(text + '\r\n', 'latin1');
}
