/**
 * Broadcast: a message is framed once and the very same bytes are written to
 * every recipient, instead of being framed (and copied) once per connection.
 * Server frames are unmasked, so one encoding is valid for all connections.
 */
import { ReadyState } from '../protocol/connection.js';
import { encodeFrameToBuffer, Opcode } from '../protocol/frame.js';
import { bindingOf, messagePayload, type MessageData, type ServerWebSocket } from './server-connection.js';

/** Encodes a complete, unmasked, uncompressed data frame for a message. */
export function encodeMessageFrame(data: MessageData, binary: boolean): Buffer {
  const payload = messagePayload(data, binary);
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return encodeFrameToBuffer(binary ? Opcode.BINARY : Opcode.TEXT, bytes);
}

/**
 * Writes a pre-encoded frame to every OPEN recipient that passes `filter`.
 * Returns how many took it (a recipient over its buffer limit does not).
 */
export function deliverFrame<W extends ServerWebSocket<unknown>>(
  recipients: Iterable<W>,
  frame: Uint8Array,
  filter?: (ws: W) => boolean,
): number {
  let delivered = 0;
  for (const ws of recipients) {
    if (filter !== undefined && !filter(ws)) continue;
    if (ws.readyState !== ReadyState.OPEN) continue;
    if (bindingOf(ws).sendFrames(frame) !== 'dropped') delivered++;
  }
  return delivered;
}
