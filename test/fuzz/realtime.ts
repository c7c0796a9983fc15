// Fuzz harness of the real-time protocol decoder: client messages (valid
// ones of every type with random fields, random JSON values, mutated bytes,
// random bytes) in JSON text or MessagePack, through the codec's `decode` and
// `parseClientMessage` (src/realtime/server/validate.ts), as a session does.
// Allowed: a typed message, a malformed command with a usable id (bad_request),
// or no usable id (close 4500) — and a `DecodeError` (close 4500). Whatever
// passes must be encodable again for subscribers in both codecs, inside a
// history reply (the deepest place data travels), and measurable for the
// publish size limit.
import { isCommandId, parseClientMessage } from '../../src/realtime/server/validate.js';
import { encodedBytes, encodeValue } from '../../src/realtime/wire/encoded.js';
import { DecodeError, jsonCodec, msgpackCodec, type Codec } from '../../src/realtime/wire/codec.js';
import { expect, type Harness } from './harness.js';
import { mutate, type Random } from './random.js';

/** The publish limit's measure: the data's bytes as the publisher's codec encodes it. */
function encodedSize(codec: { binary: boolean }, value: unknown): number {
  return encodedBytes(encodeValue(value, codec));
}

const TYPES = ['connect', 'refresh', 'subscribe', 'unsubscribe', 'publish', 'call', 'presence', 'presence_stats', 'history', 'send', 'pong', 'reply', 'bogus', ''];
const KEYS = ['type', 'id', 'channel', 'data', 'token', 'since', 'limit', 'method', 'result', 'error', 'name', 'version', 'offset', 'epoch', 'code', 'message', '__proto__', 'constructor', 'toString'];

/** A random JSON-compatible value, nested up to `depth`. */
function value(random: Random, depth: number): unknown {
  switch (random.int(depth > 0 ? 9 : 6)) {
    case 0:
      return null;
    case 1:
      return random.chance(0.5);
    case 2:
      return random.pick([0, 1, -1, 2 ** 53 - 1, 2 ** 53, 1.5, 1e308, -0, random.int(1000)]);
    case 3:
      return random.pick(['', 'chat:lobby', 'x'.repeat(random.size(300)), 'ünïcödé', '\u0000', '🎉', 'a:b:c']);
    case 4:
      return random.int(1 << 20);
    case 5:
      return random.pick(['e1', 'room', 'method.name']);
    case 6:
      return Array.from({ length: random.int(5) }, () => value(random, depth - 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = random.int(5); i > 0; i--) object[random.pick(KEYS)] = value(random, depth - 1);
      return object;
    }
  }
}

/** Arrays and objects nested `depth` levels deep: around the depth limit, or far beyond it. */
function deep(depth: number): unknown {
  let nested: unknown = [];
  for (let i = 1; i < depth; i++) nested = i % 2 === 0 ? [nested] : { d: nested };
  return nested;
}

/** A plausible client message, sometimes with wrong field types. */
function message(random: Random): Record<string, unknown> {
  const fields: Record<string, unknown> = { type: random.pick(TYPES) };
  if (random.chance(0.9)) fields.id = random.chance(0.8) ? random.range(1, 1000) : value(random, 1);
  if (random.chance(0.7)) fields.channel = random.chance(0.8) ? random.pick(['chat:lobby', 'room', 'a'.repeat(random.size(300))]) : value(random, 1);
  if (random.chance(0.6)) fields.data = random.chance(0.1) ? deep(random.pick([62, 63, 64, 65, 100, 5000])) : value(random, random.int(5));
  if (random.chance(0.2)) fields.since = random.chance(0.7) ? { offset: random.int(100), epoch: 'e' } : value(random, 2);
  if (random.chance(0.2)) fields.token = random.chance(0.8) ? 'eyJ.token' : value(random, 1);
  if (random.chance(0.2)) fields.method = random.chance(0.8) ? 'rooms.create' : value(random, 1);
  if (random.chance(0.2)) fields.limit = value(random, 0);
  if (random.chance(0.15)) fields.result = value(random, 3);
  if (random.chance(0.15)) fields.error = random.chance(0.6) ? { code: 'x', message: 'y', data: value(random, 2) } : value(random, 2);
  for (let i = random.int(3); i > 0; i--) fields[random.pick(KEYS)] = value(random, 2);
  return fields;
}

/** The bytes of one case for `codec`: an encoded message, mutated or not, random JSON, or random bytes. */
function payloadOf(random: Random, codec: Codec): string | Uint8Array {
  const roll = random.int(10);
  let bytes: Buffer;
  if (roll === 0) {
    bytes = random.bytes(random.size(512));
  } else if (roll === 1 && codec === jsonCodec) {
    return JSON.stringify(value(random, 4));
  } else {
    const fields = message(random);
    let encoded: string | Uint8Array;
    try {
      encoded = codec.encode(fields);
    } catch {
      // The test's own encoder refused (too deep for it): send the deep part as raw JSON text.
      return codec === jsonCodec ? `{"type":"publish","id":1,"channel":"c","data":${'['.repeat(5000)}${']'.repeat(5000)}}` : random.bytes(16);
    }
    bytes = Buffer.from(encoded);
    if (roll > 5) bytes = mutate(random, bytes);
    if (codec === msgpackCodec && random.chance(0.1)) bytes = withContainerBomb(random, bytes);
  }
  // Text frames carry valid UTF-8 (the frame parser checked); a session decodes them with toString.
  return codec === jsonCodec ? bytes.toString('utf8') : bytes;
}

/** Splices in array or map headers that declare far more items than follow (nested, sometimes). */
function withContainerBomb(random: Random, bytes: Buffer): Buffer {
  const headers: Buffer[] = [];
  for (let i = random.range(1, 4); i > 0; i--) {
    const size = random.pick([16, 0xffff, 0x10000, 0x0162a66d, 0x7fffffff, 0xffffffff, bytes.length, bytes.length + 1]);
    const header = Buffer.alloc(5);
    header[0] = random.pick([0xdd, 0xdf]);
    header.writeUInt32BE(size >>> 0, 1);
    headers.push(header);
  }
  const at = random.int(bytes.length + 1);
  return Buffer.concat([bytes.subarray(0, at), ...headers, bytes.subarray(at)]);
}

/** What subscribers would receive: the data inside a history reply, in both codecs. */
function checkReencodable(data: unknown): void {
  const reply = { type: 'reply', id: 1, result: { publications: [{ offset: 1, data, info: { client: 'c', user: 'u' } }], offset: 1, epoch: 'e' } };
  jsonCodec.encode(reply);
  msgpackCodec.encode(reply);
  // A publish without data is refused before it is measured (the parser requires `data`).
  if (data === undefined) return;
  encodedSize(jsonCodec, data);
  encodedSize(msgpackCodec, data);
}

export const realtimeHarness: Harness = {
  name: 'realtime',
  run(random) {
    const codec = random.chance(0.5) ? jsonCodec : msgpackCodec;
    const payload = payloadOf(random, codec);
    let fields: Record<string, unknown>;
    try {
      fields = codec.decode(payload);
    } catch (error) {
      if (error instanceof DecodeError) return 'close:4500 (decode)';
      throw error;
    }
    const parsed = parseClientMessage(fields);
    if (!parsed.ok) {
      expect(parsed.id === undefined || isCommandId(parsed.id), `unusable id ${String(parsed.id)} kept`);
      return parsed.id === undefined ? 'close:4500' : 'bad_request';
    }
    const message = parsed.message;
    if ('id' in message) expect(isCommandId(message.id), `a ${message.type} with id ${String(message.id)}`);
    if ('data' in message) checkReencodable(message.data);
    if ('result' in message) checkReencodable(message.result);
    if ('error' in message) checkReencodable(message.error);
    return `message:${message.type}`;
  },
};
