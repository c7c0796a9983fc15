/**
 * Broadcast: a message is framed (and compressed) once and the very same
 * bytes are written to every recipient, instead of being encoded once per
 * connection. Server frames are unmasked, so one encoding is valid for all
 * connections that negotiated the same extension parameters.
 */
import { messagePayload, type MessageData, type ServerWebSocket } from './server-connection.js';

/** The bytes of a message as frames carry them. */
export function messageBytes(data: MessageData, binary: boolean): Uint8Array {
  const payload = messagePayload(data, binary);
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
}

/**
 * Sends one message to every OPEN recipient that passes `filter`, encoding it
 * once per distinct encoding: recipients without extensions share one
 * uncompressed frame, recipients whose compression keeps no per-connection
 * state share one compressed frame per parameter set, and only recipients
 * with per-connection compression state (context takeover) are encoded one by
 * one. Returns how many took it (a recipient over its buffer limit does not).
 */
export function broadcastMessage<W extends ServerWebSocket<unknown>>(
  recipients: Iterable<W>,
  data: MessageData,
  binary: boolean,
  filter?: (ws: W) => boolean,
): number {
  const bytes = messageBytes(data, binary);
  const frames = new Map<string, Buffer>();
  // Recipients mostly share one encoding: the last one is at hand without a map lookup.
  let lastKey: string | null = null;
  let lastFrame: Buffer | null = null;
  let delivered = 0;
  for (const ws of recipients) {
    if (filter !== undefined && !filter(ws)) continue;
    if (!ws._open) continue;
    const binding = ws._binding;
    const key = binding.connection.sharedEncodingKey;
    let result;
    if (key === null) {
      result = binding.send(bytes, binary);
    } else {
      let frame: Buffer | null | undefined = key === lastKey ? lastFrame : frames.get(key);
      if (frame === undefined || frame === null) frames.set(key, (frame = binding.connection.encodeMessage(bytes, binary)));
      lastKey = key;
      lastFrame = frame;
      result = binding.sendFrames(frame);
    }
    if (result !== 'dropped') delivered++;
  }
  return delivered;
}
