// Fuzz harness of the frame parser and the connection state machine: valid
// streams of frames (as a client or a server would send them: text, binary,
// fragments with pings between, pongs, a close), mutated or not, or random
// bytes, fed in arbitrary chunks to a `Connection` with random limits.
// Allowed outcomes: messages (within the limits, text valid UTF-8), the
// peer's close frame, or one violation with close code 1002, 1007 or 1009
// followed by our close frame and the end of the transport.
import { Connection, type Role } from '../../src/protocol/connection.js';
import { RemoteErrorCodes, type RemoteProtocolError } from '../../src/protocol/errors.js';
import { encodeFrameToBuffer, Opcode } from '../../src/protocol/frame.js';
import { compressedBound } from '../../src/protocol/limits.js';
import { expect, type Harness } from './harness.js';
import { chunks, mutate, type Random } from './random.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const DOCUMENTED_CLOSE_CODES = new Set([1002, 1007, 1009]);
/** What the parser may hold beyond a message: a frame header (2 + 8 length bytes + 4 mask bytes) and a control frame arriving in pieces between fragments. */
const MAX_EXTRA_HELD = 14 + 125;
const SAMPLE_TEXT = ['', 'a', 'hello', 'héllo wörld', '日本語テキスト', '🎉🚀', 'x'.repeat(200), 'mixed ascii and ünïcödé ✓'];

/** Random valid UTF-8 text, some of it multi-byte. */
function text(random: Random): Buffer {
  let out = '';
  const pieces = random.range(0, 6);
  for (let i = 0; i < pieces; i++) out += random.pick(SAMPLE_TEXT);
  return Buffer.from(out, 'utf8');
}

/** A valid stream of frames as `sender` would send them. */
export function validStream(random: Random, sender: Role): Buffer {
  const frames: Buffer[] = [];
  const maskKey = (): Buffer | null => (sender === 'client' ? random.bytes(4) : null);
  const messages = random.range(1, 5);
  for (let m = 0; m < messages; m++) {
    const binary = random.chance(0.4);
    const payload = binary ? random.bytes(random.size(3000)) : text(random);
    const parts = random.chance(0.3) ? random.range(2, 5) : 1;
    let offset = 0;
    for (let p = 0; p < parts; p++) {
      const last = p === parts - 1;
      const end = last ? payload.length : Math.min(payload.length, offset + random.int(payload.length - offset + 1));
      const opcode = p === 0 ? (binary ? Opcode.BINARY : Opcode.TEXT) : Opcode.CONTINUATION;
      frames.push(encodeFrameToBuffer(opcode, payload.subarray(offset, end), { fin: last, maskKey: maskKey() }));
      offset = end;
      if (!last && random.chance(0.3)) frames.push(encodeFrameToBuffer(Opcode.PING, random.bytes(random.int(126)), { maskKey: maskKey() }));
    }
    if (random.chance(0.2)) frames.push(encodeFrameToBuffer(random.pick([Opcode.PING, Opcode.PONG]), random.bytes(random.int(126)), { maskKey: maskKey() }));
  }
  if (random.chance(0.3)) {
    const reason = Buffer.from(random.pick(['', 'bye', 'going away', 'ünïcode']));
    const code = random.pick([1000, 1001, 1003, 1008, 1011, 3000, 4999]);
    const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), reason]);
    frames.push(encodeFrameToBuffer(Opcode.CLOSE, payload, { maskKey: maskKey() }));
  }
  return Buffer.concat(frames);
}

interface Limits {
  maxMessageSize: number;
  maxFrameSize: number;
  maxFragments: number;
}

function randomLimits(random: Random): Limits {
  const maxMessageSize = random.chance(0.2) ? random.pick([0, 1, 125]) : random.pick([1000, 4096, 65536, 1 << 20]);
  return {
    maxMessageSize,
    maxFrameSize: random.chance(0.3) ? random.pick([0, 10, 125, 2000]) : maxMessageSize,
    maxFragments: random.chance(0.2) ? random.pick([1, 2]) : random.pick([4, 1024]),
  };
}

/** The input of one case: a valid stream, a mutated one, or random bytes. */
function inputOf(random: Random, sender: Role): Buffer {
  const roll = random.int(10);
  if (roll === 0) return random.bytes(random.size(4096));
  const stream = validStream(random, sender);
  if (roll <= 2) return stream;
  return mutate(random, stream, random.chance(0.3) ? validStream(random, sender) : null);
}

/** Feeds `input` to a connection and checks every event against the contract; returns the outcome. */
export function runConnectionCase(random: Random, role: Role, input: Buffer, connectionOptions: Limits & { extensions?: ConstructorParameters<typeof Connection>[0]['extensions'] }): string {
  const limit = connectionOptions.maxMessageSize;
  let violation: RemoteProtocolError | null = null;
  let peerClose: number | null = null;
  let ends = 0;
  let messages = 0;
  const written: Uint8Array[] = [];
  const connection = new Connection(
    { role, ...connectionOptions },
    {
      write: (bytes) => written.push(Buffer.from(bytes)),
      end: () => ends++,
      message: (data, binary) => {
        expect(violation === null && peerClose === null, 'a message after the end of input', input);
        expect(data.length <= limit, `a message of ${data.length} bytes over the ${limit}-byte limit`, input);
        if (!binary) strictUtf8.decode(data);
        messages++;
      },
      ping: (payload) => expect(payload.length <= 125, 'a ping payload over 125 bytes', input),
      pong: (payload) => expect(payload.length <= 125, 'a pong payload over 125 bytes', input),
      closeFrame: (code) => {
        expect(peerClose === null, 'two close frames reported', input);
        peerClose = code;
      },
      violation: (error) => {
        expect(violation === null, 'two violations reported', input);
        expect(RemoteErrorCodes[error.code] === error.closeCode && DOCUMENTED_CLOSE_CODES.has(error.closeCode), `undocumented violation ${error.code} → ${error.closeCode}`, input);
        violation = error;
      },
    },
  );
  // With an extension (permessage-deflate), a compressed message may take its deflated bound on the wire.
  const held = connectionOptions.extensions?.length ? compressedBound(limit) : limit;
  for (const chunk of chunks(random, input)) {
    connection.receiveData(chunk);
    expect(connection.bufferedInput <= held + MAX_EXTRA_HELD, `${connection.bufferedInput} bytes held with a ${limit}-byte limit`, input);
  }
  expect(ends <= 1, 'end() called twice', input);
  if (violation !== null) {
    const error: RemoteProtocolError = violation;
    expect(ends === 1, 'no end() after a violation', input);
    const last = Buffer.from(written.at(-1) ?? []);
    // Our close frame: opcode 8, the code in the first two payload bytes (after a mask key for a client).
    const offset = role === 'client' ? 6 : 2;
    const code = last.length >= offset + 2 ? (last[offset]! << 8) | last[offset + 1]! : -1;
    const sentCode = role === 'client' ? code ^ (((last[2]! << 8) | last[3]!) & 0xffff) : code;
    expect((last[0]! & 0x0f) === Opcode.CLOSE && sentCode === error.closeCode, 'the last bytes written are not a close frame with the violation code', input);
    return `close:${error.closeCode}`;
  }
  if (peerClose !== null) return 'peer-close';
  return messages > 0 ? 'messages' : 'incomplete';
}

export const frameHarness: Harness = {
  name: 'frame',
  run(random) {
    // A server reads masked client frames; a client reads unmasked server frames.
    const role: Role = random.chance(0.75) ? 'server' : 'client';
    const input = inputOf(random, role === 'server' ? 'client' : 'server');
    return runConnectionCase(random, role, input, randomLimits(random));
  },
};
