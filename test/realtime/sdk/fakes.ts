// Test doubles of the SDK's unit tests: a fake clock (timers + now) and an
// in-memory WebSocket whose server side the test scripts.
import assert from 'node:assert/strict';
import { jsonCodec, msgpackCodec, type Codec } from '../../../src/realtime/wire/codec.js';
import type { Timers } from '../../../src/realtime/sdk/timers.js';
import type { WebSocketConstructor, WebSocketLike } from '../../../src/realtime/sdk/transport.js';

/** Lets pending promise callbacks run (the client awaits the token before `connect`). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface FakeTimer {
  id: number;
  at: number;
  callback: () => void;
}

/** Timers that run only when the test moves the time forward. */
export class FakeClock implements Timers {
  time = 1_000_000;
  #next = 1;
  #timers: FakeTimer[] = [];

  readonly now = (): number => this.time;

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { id: this.#next++, at: this.time + Math.max(0, ms), callback };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves the time forward by `ms`, running every timer due on the way, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.#timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((timer) => timer !== due);
      this.time = Math.max(this.time, due.at);
      due.callback();
    }
    this.time = end;
  }
}

type Message = Record<string, unknown>;

/** One fake connection; its methods ending in a server verb act as the server. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  protocol = '';
  binaryType = 'blob';
  onopen: ((event: never) => unknown) | null = null;
  onmessage: ((event: never) => unknown) | null = null;
  onclose: ((event: never) => unknown) | null = null;
  onerror: ((event: never) => unknown) | null = null;
  readonly url: string;
  readonly protocols: string[];
  /** Messages the client sent, decoded, oldest first. */
  readonly sent: Message[] = [];
  /** The raw payloads the client sent. */
  readonly raw: Array<string | Uint8Array> = [];
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  #codec: Codec = jsonCodec;
  #read = 0;

  constructor(url: string, protocols?: string | string[]) {
    this.url = url;
    this.protocols = protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols];
  }

  send(data: string | Uint8Array): void {
    if (this.readyState === 0) throw new Error('InvalidStateError: still connecting');
    if (this.readyState !== 1) return;
    this.raw.push(data);
    this.sent.push(this.#codec.decode(data));
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    if (this.readyState >= 2) return;
    this.readyState = 2;
    const onclose = this.onclose as ((event: { code: number; reason: string }) => void) | null;
    queueMicrotask(() => {
      this.readyState = 3;
      onclose?.({ code: code ?? 1005, reason: reason ?? '' });
    });
  }

  // ------------------------------------------------------------ server side

  /** Completes the opening handshake, selecting `protocol` (default: the client's first offer). */
  accept(protocol: string = this.protocols[0] ?? ''): void {
    this.protocol = protocol;
    this.#codec = protocol === msgpackCodec.subprotocol ? msgpackCodec : jsonCodec;
    this.readyState = 1;
    (this.onopen as ((event: unknown) => void) | null)?.({});
  }

  /** Sends `message` to the client, encoded with the negotiated codec (binary as an ArrayBuffer). */
  push(message: Message): void {
    const encoded = this.#codec.encode(message);
    const data = typeof encoded === 'string' ? encoded : encoded.slice().buffer;
    (this.onmessage as ((event: { data: unknown }) => void) | null)?.({ data });
  }

  reply(id: unknown, result: unknown): void {
    this.push({ type: 'reply', id, result });
  }

  replyError(id: unknown, code: string, message = code, data?: unknown): void {
    this.push({ type: 'reply', id, error: data === undefined ? { code, message } : { code, message, data } });
  }

  /** The server answers `connect` (the first unread `connect` message). */
  acceptConnect(result: Partial<Message> = {}): Message {
    const connect = this.take('connect');
    this.reply(connect['id'], { client: 'c1', user: 'alice', ping: 25_000, pong: 10_000, ...result });
    return connect;
  }

  /** The connection drops (close event with `code`). */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    (this.onclose as ((event: { code: number; reason: string }) => void) | null)?.({ code, reason });
  }

  /** Messages not read yet by `take`/`takeAll`. */
  unread(): Message[] {
    return this.sent.slice(this.#read);
  }

  /** The next unread message; asserts its type. */
  take(type: string): Message {
    const message = this.sent[this.#read];
    assert.ok(message !== undefined, `expected a ${type} message, the client sent nothing more (sent: ${JSON.stringify(this.sent)})`);
    assert.equal(message['type'], type, `expected ${type}, got ${JSON.stringify(message)}`);
    this.#read++;
    return message;
  }

  /** Every unread message. */
  takeAll(): Message[] {
    const messages = this.unread();
    this.#read = this.sent.length;
    return messages;
  }
}

/** Hands out FakeSockets and remembers them. */
export class FakeNetwork {
  readonly sockets: FakeSocket[] = [];
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const sockets = this.sockets;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    };
  }

  get last(): FakeSocket {
    const socket = this.sockets.at(-1);
    assert.ok(socket !== undefined, 'no socket was opened');
    return socket;
  }
}

/** Collects a listener's calls. */
export function recorder<T extends unknown[]>(): { calls: T[]; listener: (...args: T) => void } {
  const calls: T[] = [];
  return { calls, listener: (...args: T) => void calls.push(args) };
}
