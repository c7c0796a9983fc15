/**
 * The client's HTTP/2 sessions for RFC 8441: one `http2.connect` session per
 * origin (and TLS options), shared by every WebSocket opened to that origin,
 * each on its own stream. A session is opened on demand and closed (GOAWAY)
 * once its last WebSocket is gone; one that received GOAWAY or failed is
 * forgotten, so the next WebSocket opens a fresh one.
 */
import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import type { HeaderList } from '../protocol/errors.js';

/** A shared session, counted by the WebSockets that use it. */
export class PooledSession {
  readonly session: ClientHttp2Session;
  /** Resolves true once the server's SETTINGS allow extended CONNECT; false when they do not, or the session failed first. */
  readonly ready: Promise<boolean>;
  private users = 0;
  private readonly forget: () => void;

  constructor(session: ClientHttp2Session, forget: () => void) {
    this.session = session;
    this.forget = forget;
    session.on('error', () => {});
    session.once('goaway', forget);
    session.once('close', forget);
    this.ready = new Promise<boolean>((resolve) => {
      session.once('remoteSettings', (settings) => resolve(settings.enableConnectProtocol === true));
      session.once('close', () => resolve(false));
      session.once('error', () => resolve(false));
    });
  }

  retain(): void {
    this.users++;
  }

  /** One WebSocket less; the last one closes the session. */
  release(): void {
    this.users--;
    if (this.users > 0) return;
    this.forget();
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  /** Opens an extended CONNECT stream with these headers. Throws what Node's `request` throws. */
  open(headers: HeaderList): ClientHttp2Stream {
    const block: OutgoingHttpHeaders = {};
    for (const [name, value] of headers) {
      const present = block[name];
      block[name] = present === undefined ? value : `${String(present)}, ${value}`;
    }
    return this.session.request(block, { endStream: false });
  }
}

/** The sessions of the process, by origin and TLS options. */
export class SessionPool {
  private readonly sessions = new Map<string, PooledSession>();
  private readonly tlsKeys = new WeakMap<object, number>();
  private nextTlsKey = 0;

  /** The session an origin already has, if any (`wss:` or `ws:` URL). */
  existing(url: URL, options: tls.ConnectionOptions | undefined): PooledSession | undefined {
    return this.sessions.get(this.keyOf(url, options));
  }

  /** The origin's session, opened if needed, counted for the caller (who must `release()` it). */
  acquire(url: URL, options: tls.ConnectionOptions | undefined): PooledSession {
    const key = this.keyOf(url, options);
    let pooled = this.sessions.get(key);
    if (pooled === undefined) {
      const session = connectSession(url, options);
      const created: PooledSession = new PooledSession(session, () => {
        if (this.sessions.get(key) === created) this.sessions.delete(key);
      });
      pooled = created;
      this.sessions.set(key, pooled);
    }
    pooled.retain();
    return pooled;
  }

  private keyOf(url: URL, options: tls.ConnectionOptions | undefined): string {
    let tlsKey = 0;
    if (options !== undefined) {
      tlsKey = this.tlsKeys.get(options) ?? ++this.nextTlsKey;
      this.tlsKeys.set(options, tlsKey);
    }
    return `${url.protocol}//${url.host}#${tlsKey}`;
  }
}

/** `http2.connect`: TLS with ALPN h2 (SNI the host name, never an IP address) for wss:, cleartext h2 with prior knowledge for ws:. */
function connectSession(url: URL, options: tls.ConnectionOptions | undefined): ClientHttp2Session {
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const authority = `${secure ? 'https' : 'http'}://${url.host}`;
  if (!secure) return http2Connect(authority);
  const servername = options?.servername ?? (net.isIP(host) === 0 ? host : undefined);
  return http2Connect(authority, { ...options, servername });
}

/** The pool of the process's `WebSocket` clients. */
export const sessionPool = new SessionPool();
