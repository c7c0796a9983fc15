/**
 * Traffic counters of a real-time server: the protocol messages it received
 * and wrote, and their encoded sizes, since it started. One `Traffic` is
 * shared by the server's sessions, its fan-out and its heartbeat.
 */

/** Connected sessions of one transport, by the HTTP version of the request that opened them. */
export interface HttpVersionCounts {
  http1: number;
  http2: number;
}

/** Connected sessions by transport: WebSocket (over HTTP/1.1 or, RFC 8441, over HTTP/2) and the HTTP fallback. */
export interface TransportCounts {
  websocket: HttpVersionCounts;
  http: HttpVersionCounts;
}

/** What `RealtimeServer.stats()` reports. */
export interface RealtimeStats {
  /** Connected sessions of this process. */
  connections: number;
  /** The same sessions by transport and HTTP version. */
  transports: TransportCounts;
  /** Protocol messages received from clients. */
  messagesIn: number;
  /** Their encoded size (WebSocket payload bytes). */
  bytesIn: number;
  /** Protocol messages written to clients: replies, pushes, pings, disconnects. */
  messagesOut: number;
  /** Their encoded size (WebSocket payload bytes, each recipient counted). */
  bytesOut: number;
  /** Local subscribers per channel, for the channels that have any. */
  channels: Map<string, number>;
}

/** The encoded size of a message: UTF-8 bytes of a JSON text, or the bytes of a binary one. */
export function payloadSize(payload: string | Uint8Array): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
}

/** Running totals of messages in and out. */
export class Traffic {
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;

  /** A message of `bytes` bytes was received. */
  received(bytes: number): void {
    this.messagesIn++;
    this.bytesIn += bytes;
  }

  /** `payload` was written to `recipients` connections. */
  sent(payload: string | Uint8Array, recipients = 1): void {
    if (recipients <= 0) return;
    this.messagesOut += recipients;
    this.bytesOut += recipients * payloadSize(payload);
  }

  /** A message whose encoded size, `bytes`, is known already was written to one connection. */
  sentBytes(bytes: number): void {
    this.messagesOut++;
    this.bytesOut += bytes;
  }
}

/** What a `TransportCounter` needs to know of a session. */
export interface TransportOf {
  readonly transport: keyof TransportCounts;
  readonly httpVersion: 1 | 2;
}

/** Connected sessions by transport and HTTP version, kept up to date as sessions connect and leave. */
export class TransportCounter {
  private readonly counts: TransportCounts = { websocket: { http1: 0, http2: 0 }, http: { http1: 0, http2: 0 } };

  add(session: TransportOf): void {
    this.counts[session.transport][session.httpVersion === 2 ? 'http2' : 'http1']++;
  }

  remove(session: TransportOf): void {
    this.counts[session.transport][session.httpVersion === 2 ? 'http2' : 'http1']--;
  }

  /** A copy of the counts. */
  snapshot(): TransportCounts {
    return { websocket: { ...this.counts.websocket }, http: { ...this.counts.http } };
  }
}
