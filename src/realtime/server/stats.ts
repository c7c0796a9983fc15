/**
 * Traffic counters of a real-time server: the protocol messages it received
 * and wrote, and their encoded sizes, since it started. One `Traffic` is
 * shared by the server's sessions, its fan-out and its heartbeat.
 */

/** What `RealtimeServer.stats()` reports. */
export interface RealtimeStats {
  /** Connected sessions of this process. */
  connections: number;
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
}
