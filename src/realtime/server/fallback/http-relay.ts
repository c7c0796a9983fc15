/**
 * What one process tells the process that holds an HTTP fallback session,
 * through the broker's relay (`Broker.relay`, addressed to the session id):
 * docs/scaling.md §4. Relay messages are compact JSON; a process decodes
 * them defensively and ignores what it does not understand.
 */

/** One client message of an uplink batch, decoded, with its encoded size (for the traffic counters). */
export interface UplinkMessage {
  fields: Record<string, unknown>;
  bytes: number;
}

/** A relay message. */
export type RelayMessage =
  /**
   * An uplink batch: its number, how many events the client acknowledged, and the
   * request body as it came (checked by the process that read it; the
   * holder parses it when it is due, and keeps only these bytes while it waits).
   */
  | { kind: 'send'; seq: number; ack: number | undefined; body: string }
  /** The client left the session (it closed it, or its event stream went to another process): no `disconnect`. */
  | { kind: 'gone'; code: number; reason: string }
  /** The server ends the session with `disconnect` and the close event (e.g. 1009 for an oversized message). */
  | { kind: 'close'; code: number; reason: string };

/** The wire form: short keys. */
type RelayWire =
  | { t: 's'; s: number; a?: number; d: string }
  | { t: 'g' | 'c'; c: number; r: string };

export function encodeRelay(message: RelayMessage): string {
  let wire: RelayWire;
  if (message.kind === 'send') {
    wire = { t: 's', s: message.seq, d: message.body };
    if (message.ack !== undefined) wire.a = message.ack;
  } else {
    wire = { t: message.kind === 'gone' ? 'g' : 'c', c: message.code, r: message.reason };
  }
  return JSON.stringify(wire);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Decodes a relay message; undefined for anything malformed. */
export function decodeRelay(text: string): RelayMessage | undefined {
  let wire: unknown;
  try {
    wire = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(wire)) return undefined;
  if (wire.t === 'g' || wire.t === 'c') {
    if (!isCount(wire.c) || typeof wire.r !== 'string') return undefined;
    return { kind: wire.t === 'g' ? 'gone' : 'close', code: wire.c, reason: wire.r };
  }
  if (wire.t !== 's' || !isCount(wire.s) || typeof wire.d !== 'string') return undefined;
  if (wire.a !== undefined && !isCount(wire.a)) return undefined;
  return { kind: 'send', seq: wire.s, ack: wire.a, body: wire.d };
}
