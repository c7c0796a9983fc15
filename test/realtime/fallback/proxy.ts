// An HTTP proxy of the kind that makes the fallback necessary: it refuses
// WebSocket upgrades (403, or it strips `Upgrade` so that the backend sees a
// plain GET), forwards every other request to its backends — one after the
// other, round robin, so consecutive requests of one client reach different
// nodes — and streams responses through as they come. It logs what it
// forwarded where, and can cut the streaming responses in flight, like a
// proxy that kills long-lived connections.
import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * What the proxy does with a WebSocket upgrade: 'refuse' (403), 'strip' (the
 * backend gets a plain GET), 'hang' (accepts the connection and never
 * answers), 'allow' (tunnels it to a backend).
 */
export type UpgradePolicy = 'refuse' | 'strip' | 'hang' | 'allow';

/** One forwarded request. */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** The `X-Switchboard-Session` request header, if any. */
  session: string | undefined;
  /** Index of the backend it went to. */
  backend: number;
  status?: number;
}

export interface Backend {
  host: string;
  port: number;
}

/** Headers that concern one hop only and are not forwarded. */
const HOP_HEADERS = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer']);

function forwardedHeaders(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_HEADERS.has(name)) result[name] = value;
  }
  return result;
}

export class BlockingProxy {
  /** Every request forwarded, in arrival order. */
  readonly log: ProxiedRequest[] = [];
  /** Upgrades refused or stripped. */
  upgradesBlocked = 0;
  /** While true, every request gets 502: the backends look unreachable. */
  backendsDown = false;
  /** Picks the backend of a request (an index); undefined, or no function: round robin. */
  route: ((request: IncomingMessage) => number | undefined) | undefined;
  private next = 0;
  private readonly streams = new Set<{ upstream: IncomingMessage; response: ServerResponse }>();
  /** Upgraded sockets held open (hanging or tunneled), destroyed at close. */
  private readonly held = new Set<Duplex>();

  private constructor(
    private readonly server: Server,
    private readonly backends: Backend[],
    /** May change while the proxy runs. */
    public policy: UpgradePolicy,
  ) {
    server.on('request', (request, response) => this.forward(request, response));
    server.on('upgrade', (request: IncomingMessage, socket: Duplex) => this.upgrade(request, socket));
  }

  static async start(backends: Backend[], policy: UpgradePolicy = 'refuse'): Promise<BlockingProxy> {
    const proxy = new BlockingProxy(createServer(), backends, policy);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** A URL of the proxy: `ws://127.0.0.1:port{path}` (or another scheme). */
  url(path = '/', scheme = 'ws'): string {
    return `${scheme}://127.0.0.1:${this.port}${path}`;
  }

  /** The forwarded requests of one session. */
  requestsOf(session: string): ProxiedRequest[] {
    return this.log.filter((entry) => entry.session === session);
  }

  /** Streaming responses in flight now. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Destroys every streaming response in flight; returns how many. */
  cutStreams(): number {
    const cut = this.streams.size;
    for (const { upstream, response } of this.streams) {
      response.destroy();
      upstream.destroy();
    }
    this.streams.clear();
    return cut;
  }

  async close(): Promise<void> {
    this.cutStreams();
    for (const socket of this.held) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pick(): number {
    return this.next++ % this.backends.length;
  }

  private upgrade(request: IncomingMessage, socket: Duplex): void {
    if (this.policy === 'allow') {
      this.tunnel(request, socket);
      return;
    }
    this.upgradesBlocked++;
    if (this.policy === 'hang') {
      this.hold(socket);
      return;
    }
    if (this.policy === 'refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 27\r\nConnection: close\r\n\r\nWebSockets are not allowed\n');
      return;
    }
    // Strip the upgrade: the backend gets a plain GET, and its refusal goes back.
    const response = new FakeResponseSocket(socket);
    this.forwardRaw(request, response);
  }

  /** Passes an upgrade through to a backend, byte for byte. */
  private tunnel(request: IncomingMessage, socket: Duplex): void {
    const { host, port } = this.backends[this.pick()]!;
    const upstream = connectTcp(port, host, () => {
      const head = [`${request.method} ${request.url} HTTP/1.1`];
      for (let index = 0; index < request.rawHeaders.length; index += 2) head.push(`${request.rawHeaders[index]}: ${request.rawHeaders[index + 1]}`);
      upstream.write(`${head.join('\r\n')}\r\n\r\n`);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    this.hold(socket);
    this.hold(upstream);
  }

  private hold(socket: Duplex): void {
    this.held.add(socket);
    socket.on('close', () => this.held.delete(socket));
  }

  private forward(request: IncomingMessage, response: ServerResponse): void {
    if (this.backendsDown) {
      request.resume();
      response.writeHead(502, { 'Content-Type': 'text/plain' }).end('bad gateway\n');
      return;
    }
    this.forwardRaw(request, response);
  }

  private forwardRaw(request: IncomingMessage, response: ServerResponse | FakeResponseSocket): void {
    const backend = this.route?.(request) ?? this.pick();
    const { host, port } = this.backends[backend]!;
    const session = request.headers['x-switchboard-session'];
    const entry: ProxiedRequest = { method: request.method ?? 'GET', path: request.url ?? '/', session: typeof session === 'string' ? session : undefined, backend };
    this.log.push(entry);
    const upstreamRequest = httpRequest({ host, port, method: request.method, path: request.url, headers: forwardedHeaders(request.headers) }, (upstream) => {
      entry.status = upstream.statusCode;
      const opened = upstream.headers['x-switchboard-session'];
      if (entry.session === undefined && typeof opened === 'string') entry.session = opened;
      if (response instanceof FakeResponseSocket) {
        response.relay(upstream);
        return;
      }
      response.writeHead(upstream.statusCode ?? 502, forwardedHeaders(upstream.headers));
      response.flushHeaders();
      const stream = { upstream, response };
      const streaming = String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream');
      if (streaming) this.streams.add(stream);
      upstream.on('data', (chunk: Buffer) => response.write(chunk));
      upstream.on('end', () => response.end());
      upstream.on('error', () => response.destroy());
      upstream.on('close', () => this.streams.delete(stream));
      response.on('close', () => upstream.destroy());
    });
    upstreamRequest.on('error', () => {
      if (response instanceof FakeResponseSocket) response.fail();
      else if (!response.headersSent) response.writeHead(502).end('bad gateway\n');
      else response.destroy();
    });
    request.on('data', (chunk: Buffer) => upstreamRequest.write(chunk));
    request.on('end', () => upstreamRequest.end());
  }
}

/** The client side of a stripped upgrade: the backend's answer is written raw to the client's socket, then it closes. */
class FakeResponseSocket {
  constructor(private readonly socket: Duplex) {}

  relay(upstream: IncomingMessage): void {
    const lines = [`HTTP/1.1 ${upstream.statusCode ?? 502} ${upstream.statusMessage ?? ''}`];
    for (const [name, value] of Object.entries(forwardedHeaders(upstream.headers))) {
      if (name !== 'content-length') lines.push(`${name}: ${String(value)}`);
    }
    const chunks: Buffer[] = [];
    upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
    upstream.on('end', () => {
      const body = Buffer.concat(chunks);
      lines.push(`content-length: ${body.length}`, 'connection: close');
      this.socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
    });
  }

  fail(): void {
    this.socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  }
}
