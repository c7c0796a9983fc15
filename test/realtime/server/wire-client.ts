/**
 * A test client that speaks the real-time wire protocol by hand over
 * Switchboard's Node `WebSocket`: it sends commands with ids, awaits replies
 * by id, records every push in arrival order, answers pings (unless told
 * not to) and reports the close. Plus helpers to start servers and sign JWTs.
 */
import { createHmac } from 'node:crypto';
import { CloseEvent, ErrorEvent, WebSocket } from '../../../src/node/client-index.js';
import { jsonCodec, msgpackCodec, type Codec } from '../../../src/realtime/wire/codec.js';
import type { ErrorBody, ServerMessage } from '../../../src/realtime/wire/messages.js';
import { createRealtimeServer, type RealtimeServer, type RealtimeServerOptions } from '../../../src/realtime/server/index.js';
import type { ApiShape, UntypedApi } from '../../../src/realtime/wire/api.js';

export const JSON_PROTOCOL = 'switchboard.v1.json';
export const MSGPACK_PROTOCOL = 'switchboard.v1.msgpack';

/** An error reply, as a rejection of `WireClient.request`. */
export class ReplyError extends Error {
  readonly code: string;
  readonly data: unknown;
  constructor(body: ErrorBody) {
    super(`${body.code}: ${body.message}`);
    this.code = body.code;
    this.data = body.data;
  }
}

type Reply = { result?: unknown; error?: ErrorBody };

export interface WireClientOptions {
  /** Subprotocols to offer; default [json]. Use [] to offer none. */
  protocols?: string[];
  headers?: Record<string, string>;
  /** Answer `ping` with `pong` (default true). */
  autoPong?: boolean;
}

/** The close as the client saw it. */
export interface Closed {
  code: number;
  reason: string;
}

const DEFAULT_WAIT = 5000;

export class WireClient {
  readonly ws: WebSocket;
  readonly codec: Codec;
  /** Every server message that is not a reply, in arrival order. */
  readonly pushes: ServerMessage[] = [];
  /** Every server message, in arrival order. */
  readonly received: ServerMessage[] = [];
  autoPong: boolean;
  readonly closed: Promise<Closed>;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private readonly watchers = new Set<() => void>();

  private constructor(ws: WebSocket, options: WireClientOptions) {
    this.ws = ws;
    this.codec = ws.protocol === MSGPACK_PROTOCOL ? msgpackCodec : jsonCodec;
    this.autoPong = options.autoPong ?? true;
    this.closed = new Promise((resolve) => {
      ws.addEventListener('close', (event) => {
        resolve({ code: event.code, reason: event.reason });
        this.notify();
      });
    });
    ws.addEventListener('message', (event) => this.onMessage(event.data));
  }

  /** Opens a connection (rejects with the handshake error when refused). */
  static open(url: string, options: WireClientOptions = {}): Promise<WireClient> {
    const protocols = options.protocols ?? [JSON_PROTOCOL];
    const ws = new WebSocket(url, protocols, { headers: options.headers });
    ws.binaryType = 'arraybuffer';
    return new Promise((resolve, reject) => {
      let failure: unknown = null;
      ws.addEventListener('error', (event) => (failure = (event as ErrorEvent).error));
      ws.addEventListener('close', (event) => reject(failure ?? new Error(`closed before open: ${(event as CloseEvent).code}`)));
      ws.addEventListener('open', () => resolve(new WireClient(ws, options)));
    });
  }

  /** Opens a connection and sends `connect`; resolves the client and the connect result. */
  static async connect(url: string, connect: Record<string, unknown> = {}, options: WireClientOptions = {}): Promise<{ client: WireClient; result: Record<string, unknown> }> {
    const client = await WireClient.open(url, options);
    const result = (await client.request('connect', connect)) as Record<string, unknown>;
    return { client, result };
  }

  /** Sends a raw protocol message. */
  send(message: object): void {
    this.ws.send(this.codec.encode(message));
  }

  /** Sends a command with a fresh id; resolves the whole reply. */
  command(type: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve) => this.waiting.set(id, resolve));
    this.send({ ...fields, type, id });
    return reply;
  }

  /** Sends a command; resolves its result or rejects with `ReplyError`. */
  async request(type: string, fields: Record<string, unknown> = {}): Promise<unknown> {
    const reply = await this.command(type, fields);
    if (reply.error !== undefined) throw new ReplyError(reply.error);
    return reply.result;
  }

  /** Resolves the first push (from now on or already received, after index `from`) that matches. */
  async nextPush(match: (push: ServerMessage) => boolean, timeout = DEFAULT_WAIT, from = 0): Promise<ServerMessage> {
    const found = await this.waitFor(() => this.pushes.slice(from).find(match), timeout, 'a push');
    return found;
  }

  /** Waits until `count` pushes match, resolving them in order. */
  async pushesOf(match: (push: ServerMessage) => boolean, count: number, timeout = DEFAULT_WAIT): Promise<ServerMessage[]> {
    return this.waitFor(
      () => {
        const matching = this.pushes.filter(match);
        return matching.length >= count ? matching.slice(0, count) : undefined;
      },
      timeout,
      `${count} pushes`,
    );
  }

  /** Resolves what `check` returns once it is defined; rejects after `timeout` ms. */
  waitFor<T>(check: () => T | undefined, timeout = DEFAULT_WAIT, what = 'a condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const value = check();
        if (value === undefined) return false;
        this.watchers.delete(attempt);
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        this.watchers.delete(attempt);
        reject(new Error(`timed out waiting for ${what}; pushes: ${JSON.stringify(this.pushes.slice(-5))}`));
      }, timeout);
      if (!attempt()) this.watchers.add(attempt);
    });
  }

  /** Closes the WebSocket and waits for the close. */
  async close(code = 1000): Promise<Closed> {
    if (this.ws.readyState < 2) this.ws.close(code);
    return this.closed;
  }

  private onMessage(data: unknown): void {
    const payload = typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer);
    const message = this.codec.decode(payload) as unknown as ServerMessage;
    this.received.push(message);
    if (message.type === 'reply') {
      const resolve = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      resolve?.('error' in message ? { error: message.error } : { result: message.result });
    } else {
      this.pushes.push(message);
      if (message.type === 'ping' && this.autoPong) this.send({ type: 'pong' });
    }
    this.notify();
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }
}

/** Server options a test passes (the transport is chosen by `startServer`). */
export type TestServerOptions<A extends ApiShape = UntypedApi> = Omit<RealtimeServerOptions<A>, 'port' | 'server' | 'noServer'>;

/** Starts a server on a free port and resolves it with its ws:// URL. */
export async function startServer<A extends ApiShape = UntypedApi>(
  options: TestServerOptions<A> = {},
): Promise<{ server: RealtimeServer<A>; url: string }> {
  const server = createRealtimeServer<A>({ ...options, port: 0, host: '127.0.0.1' });
  await server.ready();
  return { server, url: `ws://127.0.0.1:${server.port}/` };
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** Signs an HS256 JWT. */
export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  return `${head}.${body}.${base64url(signature)}`;
}

/** Seconds since the epoch, `offset` seconds from now. */
export function epochSeconds(offset = 0): number {
  return Math.floor(Date.now() / 1000) + offset;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True for a push of `type` (and `channel` when given). */
export function isPush(type: string, channel?: string): (push: ServerMessage) => boolean {
  return (push) => push.type === type && (channel === undefined || ('channel' in push && push.channel === channel));
}
