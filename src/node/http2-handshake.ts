/**
 * The server's side of an RFC 8441 opening handshake on a Node HTTP/2 stream:
 * the `IncomingMessage` the hooks see (the same type as on HTTP/1.1), the
 * stream between its extended CONNECT and the answer, and the answer itself
 * (`:status 200` with the negotiated fields, or the refusal).
 */
import { IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { HandshakeError, type HeaderList } from '../protocol/errors.js';
import { http2Fields } from '../protocol/extended-connect.js';

/**
 * The request the hooks (`authenticate`, `allowedOrigins`, `allowedHosts`,
 * 'connection') see for an extended CONNECT: a real `IncomingMessage` with
 * `httpVersion` "2.0", `method` "CONNECT", `url` from `:path`, the fields
 * without pseudo-headers plus `host` from `:authority`, and `socket` the
 * HTTP/2 session's socket.
 */
export function requestOfStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[]): IncomingMessage {
  const socket = stream.session?.socket as Socket | undefined;
  const request = new IncomingMessage(socket as Socket);
  request.httpVersionMajor = 2;
  request.httpVersionMinor = 0;
  request.httpVersion = '2.0';
  request.method = 'CONNECT';
  request.url = typeof headers[':path'] === 'string' ? headers[':path'] : '/';
  const fields: IncomingHttpHeaders = {};
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':')) continue;
    fields[name] = value;
  }
  const authority = headers[':authority'];
  if (typeof authority === 'string' && fields.host === undefined) {
    fields.host = authority;
    raw.push('host', authority);
  }
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (!rawHeaders[i]!.startsWith(':')) raw.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  request.headers = fields;
  request.rawHeaders = raw;
  request.complete = true;
  request.push(null);
  return request;
}

/** The client address of a stream (its session's socket), if it has one. */
export function remoteAddressOfStream(stream: ServerHttp2Stream): string | undefined {
  return stream.session?.socket?.remoteAddress;
}

/** The response header block of an accepted extended CONNECT. */
export function acceptHeaders(fields: HeaderList, extra: HeaderList): Record<string, string | string[]> {
  const block: Record<string, string | string[]> = { ':status': '200' };
  for (const [name, value] of http2Fields([...fields, ...extra])) addField(block, name, value);
  return block;
}

function addField(block: Record<string, string | string[]>, name: string, value: string): void {
  const key = name.toLowerCase();
  const present = block[key];
  if (present === undefined) block[key] = value;
  else block[key] = Array.isArray(present) ? [...present, value] : [present, value];
}

/**
 * An extended CONNECT between its arrival and the answer: notices a client
 * that resets the stream or goes away during an async `authenticate`, and
 * cuts the wait short on timeout or server shutdown.
 */
export class PendingStream {
  readonly stream: ServerHttp2Stream;
  private gone = false;
  private readonly timer: NodeJS.Timeout;
  private interrupt: (error: HandshakeError) => void = () => {};
  private readonly interrupted: Promise<never>;

  constructor(stream: ServerHttp2Stream, timeout: number) {
    this.stream = stream;
    this.interrupted = new Promise<never>((_, reject) => {
      this.interrupt = reject;
    });
    this.interrupted.catch(() => {});
    stream.pause();
    stream.on('close', this.onGone);
    stream.on('aborted', this.onGone);
    stream.on('error', this.onGone);
    this.timer = setTimeout(() => {
      this.cancel(new HandshakeError('SB_ERR_HANDSHAKE_TIMEOUT', 503, `the handshake took more than ${timeout} ms`));
    }, timeout);
    this.timer.unref();
  }

  get isGone(): boolean {
    return this.gone || this.stream.destroyed || this.stream.closed;
  }

  within<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.interrupted]);
  }

  cancel(error: HandshakeError): void {
    this.interrupt(error);
  }

  /** Answers `:status 200` and hands the stream over (paused) to the connection. */
  accept(block: Record<string, string | string[]>): void {
    this.detach();
    this.stream.respond(block);
  }

  /** Answers with the refusal's status, its headers (those HTTP/2 allows) and its message as a plain-text body. */
  refuse(error: HandshakeError): void {
    this.detach();
    const stream = this.stream;
    stream.on('error', () => {});
    if (stream.destroyed || stream.closed || stream.headersSent) {
      stream.destroy();
      return;
    }
    const block: Record<string, string | string[]> = {};
    for (const [name, value] of http2Fields(error.headers)) addField(block, name, value);
    const body = Buffer.from(error.message, 'utf8');
    block[':status'] = String(error.status);
    block['content-type'] = 'text/plain; charset=utf-8';
    block['content-length'] = String(body.length);
    stream.respond(block);
    stream.end(body);
    stream.resume();
  }

  /** Resets the stream without answering (the client is gone). */
  drop(): void {
    this.detach();
    this.stream.on('error', () => {});
    this.stream.destroy();
  }

  private detach(): void {
    clearTimeout(this.timer);
    this.stream.off('close', this.onGone);
    this.stream.off('aborted', this.onGone);
    this.stream.off('error', this.onGone);
  }

  private readonly onGone = (): void => {
    if (this.gone) return;
    this.gone = true;
    this.cancel(new HandshakeError('SB_ERR_REJECTED', 0, 'the client went away during the handshake'));
  };
}
