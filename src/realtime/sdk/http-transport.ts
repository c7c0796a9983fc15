/**
 * The HTTP fallback transport of the client (docs/protocol.md §11), for
 * networks that block WebSockets: a `WebSocketLike` the client uses exactly
 * as it uses a WebSocket, built on `fetch` — browsers and Node ≥ 18 have it.
 *
 * - Opening: the socket reports `open` at once; the first messages sent (the
 *   client's `connect` and its subscribes) go in the body of the POST that
 *   opens the session (it names the fallback version, 2), whose response is
 *   the session's event stream, read incrementally from the fetch body
 *   (EventSource is not used: it cannot send the session id in a header,
 *   nor the first messages in a body).
 * - Down: each event is one message. Events carry no id: the transport
 *   counts them (across the streams of the session), and that count is its
 *   acknowledgement on uplink requests. A stream that breaks is asked for
 *   again with the count in `Last-Event-ID` until the server's downlink
 *   timeout passes; the server then writes exactly the events that followed.
 * - Up: messages queue and go in numbered batches, one request at a time; a
 *   request that failed is sent again with the same number (the server
 *   takes each number once), which also keeps the order when consecutive
 *   requests reach different servers.
 * - The end: the server's `close` event closes the socket with its code; a
 *   session that cannot be resumed or reached closes it with 1006, after
 *   which the client reconnects as after any lost WebSocket.
 */
import { CLOSE_EVENT, EventStreamParser, type StreamEvent } from '../wire/event-stream.js';
import { HTTP_ENDPOINTS, HTTP_FALLBACK_VERSION, HTTP_HEADERS } from '../wire/http.js';
import { SUBPROTOCOL_JSON } from '../wire/messages.js';
import type { Timers } from './timers.js';
import type { CloseEventLike, WebSocketLike } from './transport.js';

/** What the transport reads of a `fetch` response. */
export interface FetchResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
}

/** The request options the transport passes to `fetch`. */
export interface FetchInitLike {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  keepalive?: boolean;
  cache?: 'no-store';
  credentials?: 'omit';
}

/** A `fetch` function (the platform's, or a test's). */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

export interface HttpSocketOptions {
  fetch: FetchLike;
  timers: Timers;
  now: () => number;
}

/** Used until the server says otherwise (its `X-Switchboard-Downlink-Timeout`). */
export const DEFAULT_CLIENT_DOWNLINK_TIMEOUT = 10_000;
/** An uplink request carries at most this many bytes of messages (a larger message goes alone). */
export const MAX_BATCH_BYTES = 64 * 1024;
/** A failed uplink request is tried this many times more before the session counts as lost. */
export const UPLINK_RETRIES = 5;
/** Delays between retries (ms): the first, doubled each time up to the last. */
const RETRY_MIN_DELAY = 100;
const RETRY_MAX_DELAY = 2_000;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** The platform's `fetch`, if there is one. */
export function globalFetch(): FetchLike | undefined {
  const candidate = (globalThis as { fetch?: unknown }).fetch;
  return typeof candidate === 'function' ? (candidate as FetchLike).bind(globalThis) : undefined;
}

/** The HTTP form of a real-time endpoint URL: ws://host/rt → http://host/rt, wss → https (http(s) as is). */
export function httpRootOf(url: string): URL {
  const root = new URL(url);
  if (root.protocol === 'ws:') root.protocol = 'http:';
  else if (root.protocol === 'wss:') root.protocol = 'https:';
  if (root.protocol !== 'http:' && root.protocol !== 'https:') throw new TypeError(`not a ws(s) or http(s) URL: ${url}`);
  root.hash = '';
  return root;
}

/** The URL of one of the fallback's endpoints under a real-time endpoint (ws://host/rt → http://host/rt/http…). */
export function httpEndpointOf(url: string | URL, endpoint: keyof typeof HTTP_ENDPOINTS = 'session'): string {
  const target = typeof url === 'string' ? httpRootOf(url) : new URL(url);
  target.pathname = target.pathname.replace(/\/+$/, '') + HTTP_ENDPOINTS[endpoint];
  return target.toString();
}

/** The retry delay after `attempt` failures. */
function retryDelay(attempt: number): number {
  return Math.min(RETRY_MAX_DELAY, RETRY_MIN_DELAY * 2 ** Math.max(0, attempt - 1));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Takes the messages of the next uplink request off the front of `outbox`. */
function takeBatch(outbox: string[]): string[] {
  let bytes = 0;
  let count = 0;
  while (count < outbox.length && (count === 0 || bytes + outbox[count]!.length <= MAX_BATCH_BYTES)) bytes += outbox[count++]!.length;
  return outbox.splice(0, count);
}

/** One session of the HTTP fallback, as a WebSocket. */
export class HttpSocket implements WebSocketLike {
  readyState: number = CONNECTING;
  readonly protocol = SUBPROTOCOL_JSON;
  binaryType = 'arraybuffer';
  onopen: ((event: never) => unknown) | null = null;
  onmessage: ((event: never) => unknown) | null = null;
  onclose: ((event: never) => unknown) | null = null;
  onerror: ((event: never) => unknown) | null = null;
  /** The session id, once the server opened the session. */
  session: string | undefined;

  /** The real-time endpoint, in its http(s) form. */
  readonly #root: URL;
  readonly #fetch: FetchLike;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #abort = new AbortController();
  readonly #outbox: string[] = [];
  #opening = false;
  #sending = false;
  #flushQueued = false;
  #seq = 0;
  /** Message events received in the session, over all its streams: the number of the last. */
  #received = 0;
  #downlinkTimeout = DEFAULT_CLIENT_DOWNLINK_TIMEOUT;
  readonly #textDecoder = new TextDecoder();

  /** `url`: the real-time endpoint, as for a WebSocket (ws://host/rt; http(s) works too). */
  constructor(url: string, options: HttpSocketOptions) {
    this.#root = httpRootOf(url);
    this.#fetch = options.fetch;
    this.#timers = options.timers;
    this.#now = options.now;
    // Nothing to wait for: the session opens with the first messages.
    queueMicrotask(() => this.#opened());
  }

  /** The URL that opens the session. */
  get url(): string {
    return this.#endpoint('session');
  }

  send(data: string | Uint8Array): void {
    if (this.readyState !== OPEN) return;
    this.#outbox.push(typeof data === 'string' ? data : this.#textDecoder.decode(data));
    this.#queueFlush();
  }

  /** Ends the session (the server is told, without waiting) and reports the close. */
  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    this.#finish({ code, reason }, true);
  }

  // ------------------------------------------------------------ lifecycle

  #opened(): void {
    if (this.readyState !== CONNECTING) return;
    this.readyState = OPEN;
    this.#call(this.onopen, {});
  }

  /** The socket is closed: stop every request, tell the server when asked, report the close. */
  #finish(close: CloseEventLike, tellServer: boolean): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.#abort.abort();
    if (tellServer && this.session !== undefined) this.#endSession(this.session);
    this.#call(this.onclose, close);
  }

  /** The session is lost (unreachable, gone, or refused): report an error and close; `tellServer` unless the server said it is gone. */
  #fail(code: number, reason: string, tellServer = true): void {
    if (this.readyState === CLOSED) return;
    this.#call(this.onerror, { error: new Error(reason) });
    this.#finish({ code, reason }, tellServer);
  }

  #endSession(session: string): void {
    const request = this.#fetch(this.#endpoint('session'), {
      method: 'DELETE',
      headers: { [HTTP_HEADERS.session]: session },
      keepalive: true,
      cache: 'no-store',
      credentials: 'omit',
    });
    request.then((response) => void response.body?.cancel().catch(() => undefined), () => undefined);
  }

  #call(handler: ((event: never) => unknown) | null, event: object): void {
    (handler as ((event: object) => unknown) | null)?.(event);
  }

  #endpoint(endpoint: keyof typeof HTTP_ENDPOINTS): string {
    return httpEndpointOf(this.#root, endpoint);
  }

  // ------------------------------------------------------------ up

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // Messages sent in one go (connect and the subscribes) share one request.
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.readyState !== OPEN || this.#sending || this.#opening || this.#outbox.length === 0) return;
    const batch = takeBatch(this.#outbox);
    if (this.session === undefined) void this.#open(batch);
    else void this.#sendBatch(this.session, batch);
  }

  /** POST {base}: opens the session with the first messages; its response is the event stream. */
  async #open(batch: string[]): Promise<void> {
    this.#opening = true;
    let response: FetchResponseLike;
    try {
      response = await this.#fetch(this.#endpoint('session'), this.#post(`[${batch.join(',')}]`, { [HTTP_HEADERS.version]: String(HTTP_FALLBACK_VERSION) }));
    } catch (error) {
      this.#fail(1006, `cannot open an HTTP session at ${this.url}: ${errorText(error)}`);
      return;
    }
    const session = response.headers.get(HTTP_HEADERS.session);
    if (response.status !== 200 || response.body === null || session === null) {
      void response.body?.cancel().catch(() => undefined);
      this.#fail(1006, `the server refused the HTTP session (HTTP ${response.status})`);
      return;
    }
    this.session = session;
    const timeout = Number(response.headers.get(HTTP_HEADERS.downlinkTimeout));
    if (timeout > 0) this.#downlinkTimeout = timeout;
    this.#opening = false;
    void this.#read(response.body);
    this.#flush();
  }

  /** POST {base}/send: one numbered batch, sent again (same number) after a failure. */
  async #sendBatch(session: string, batch: string[]): Promise<void> {
    this.#sending = true;
    const seq = ++this.#seq;
    const body = `[${batch.join(',')}]`;
    for (let attempt = 0; this.readyState === OPEN; attempt++) {
      if (attempt > UPLINK_RETRIES) return this.#fail(1006, 'the server did not take the messages');
      if (attempt > 0) await this.#sleep(retryDelay(attempt));
      if (this.readyState !== OPEN) return;
      const headers = { [HTTP_HEADERS.session]: session, [HTTP_HEADERS.seq]: String(seq), [HTTP_HEADERS.ack]: String(this.#received) };
      let status: number;
      try {
        const response = await this.#fetch(this.#endpoint('send'), this.#post(body, headers));
        status = response.status;
        void response.body?.cancel().catch(() => undefined);
      } catch {
        continue;
      }
      if (status >= 200 && status < 300) break;
      if (status === 413) return this.#fail(1009, 'message too big');
      if (status < 500) return this.#fail(1006, `the session is gone (HTTP ${status})`, status !== 404);
    }
    this.#sending = false;
    this.#flush();
  }

  #post(body: string, headers: Record<string, string>): FetchInitLike {
    return {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
      signal: this.#abort.signal,
      cache: 'no-store',
      credentials: 'omit',
    };
  }

  // ------------------------------------------------------------ down

  /** Reads one event stream to its end; then resumes it, unless the socket closed. */
  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const parser = new EventStreamParser();
    const decoder = new TextDecoder();
    try {
      while (this.readyState === OPEN) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
          if (this.readyState !== OPEN) break;
          this.#dispatch(event);
        }
      }
    } catch {
      // The stream broke (or the socket closed and aborted it).
    }
    if (this.readyState === OPEN) void this.#resume();
    else void reader.cancel().catch(() => undefined);
  }

  #dispatch(event: StreamEvent): void {
    if (event.type === CLOSE_EVENT) {
      this.#onCloseEvent(event.data);
      return;
    }
    if (event.type !== 'message') return;
    // Counted, not read from the event: every message event of the session is the next one.
    this.#received++;
    this.#call(this.onmessage, { data: event.data });
  }

  /** The server ended the session: close with its code (nothing to tell it). */
  #onCloseEvent(data: string): void {
    let close: CloseEventLike = { code: 1006, reason: '' };
    try {
      const fields = JSON.parse(data) as Partial<CloseEventLike>;
      if (typeof fields.code === 'number') close = { code: fields.code, reason: typeof fields.reason === 'string' ? fields.reason : '' };
    } catch {
      // a malformed close event still ends the session
    }
    this.#finish(close, false);
  }

  /** GET {base}/stream with the count of events received as `Last-Event-ID`, again and again until the downlink timeout passes. */
  async #resume(): Promise<void> {
    const session = this.session!;
    const deadline = this.#now() + this.#downlinkTimeout;
    for (let attempt = 0; this.readyState === OPEN; attempt++) {
      if (attempt > 0) await this.#sleep(retryDelay(attempt));
      if (this.readyState !== OPEN) return;
      if (this.#now() >= deadline) return this.#fail(1006, 'the event stream could not be resumed');
      let response: FetchResponseLike;
      try {
        response = await this.#fetch(this.#endpoint('stream'), {
          method: 'GET',
          headers: { [HTTP_HEADERS.session]: session, [HTTP_HEADERS.lastEventId]: String(this.#received) },
          signal: this.#abort.signal,
          cache: 'no-store',
          credentials: 'omit',
        });
      } catch {
        continue;
      }
      if (response.status === 200 && response.body !== null) {
        void this.#read(response.body);
        return;
      }
      void response.body?.cancel().catch(() => undefined);
      // The session ended, or lives on another server: open a new one (the client recovers).
      if (response.status < 500) return this.#fail(1006, `the session cannot resume (HTTP ${response.status})`, false);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#timers.setTimeout(resolve, ms));
  }
}
