// Fuzz harness of permessage-deflate: messages compressed by zlib (with the
// peer's window size, sometimes several in one stream with context
// takeover), highly compressible ones (bombs), mutated or random bytes,
// decoded by a negotiated `PerMessageDeflate` with a random size limit —
// directly, or as frames through a `Connection`. Allowed: the original bytes
// (when the input was not mutated and fits the limit), some output within the
// limit, or a `RemoteProtocolError` with 1007 (corrupt data) or 1009 (too
// large); through a connection, the frame harness's outcomes.
import zlib from 'node:zlib';
import { RemoteProtocolError } from '../../src/protocol/errors.js';
import type { ExtensionParam } from '../../src/protocol/headers.js';
import { encodeFrameToBuffer, Opcode, RSV1 } from '../../src/protocol/frame.js';
import { PerMessageDeflate, PerMessageDeflateServer } from '../../src/protocol/permessage-deflate.js';
import { runConnectionCase } from './frame.js';
import { expect, FuzzFailure, type Harness } from './harness.js';
import { mutate, type Random } from './random.js';

const DECODE_ERRORS = new Map([
  ['SB_ERR_INFLATE_FAILED', 1007],
  ['SB_ERR_MESSAGE_TOO_LARGE', 1009],
]);

/** An offer a client could make, as parameters. */
function offer(random: Random): ExtensionParam[] {
  const params: ExtensionParam[] = [];
  if (random.chance(0.3)) params.push(['client_no_context_takeover', true]);
  if (random.chance(0.3)) params.push(['server_no_context_takeover', true]);
  if (random.chance(0.5)) params.push(['client_max_window_bits', random.chance(0.5) ? true : String(random.range(9, 15))]);
  return params;
}

/** Negotiates the server's extension; the client's context takeover is allowed or not at random. */
function negotiate(random: Random): PerMessageDeflate {
  const server = new PerMessageDeflateServer({ clientNoContextTakeover: random.chance(0.5) });
  const negotiated = server.negotiate([offer(random)]);
  if (negotiated === null) throw new FuzzFailure('a valid offer was declined');
  return negotiated.extension as PerMessageDeflate;
}

/** Runs of zeros, shared: they compress to a few bytes per KiB (bombs). */
const zeros = new Map<number, Buffer>();
function zeroRun(size: number): Buffer {
  let run = zeros.get(size);
  if (run === undefined) zeros.set(size, (run = Buffer.alloc(size)));
  return run;
}

/** Compressed bombs, by size and window: compressing megabytes per case would dominate the run. */
const bombs = new Map<string, Buffer>();
function compressedZeros(size: number, windowBits: number): Buffer {
  const key = `${size}/${windowBits}`;
  let bomb = bombs.get(key);
  if (bomb === undefined) bombs.set(key, (bomb = compressAll([zeroRun(size)], windowBits, 9, true)[0]!));
  return bomb;
}

/** Message contents: random, repetitive text, a run of zeros, or a JSON message. */
function content(random: Random): Buffer {
  switch (random.int(4)) {
    case 0:
      return random.bytes(random.size(4096));
    case 1:
      return Buffer.from('the quick brown fox '.repeat(random.range(0, 400)));
    case 2:
      return zeroRun(random.pick([0, 1, 1000, 20_000]));
    default:
      return Buffer.from(JSON.stringify({ type: 'publication', offset: random.int(1e6), data: { text: 'x'.repeat(random.size(500)) } }));
  }
}

/** Compresses messages in one raw DEFLATE stream as a client with this window would, each ending in a sync flush (tail removed). */
function compressAll(messages: Buffer[], windowBits: number, level: number, resetEach: boolean): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < messages.length; i++) {
    // Without context takeover each message is its own stream; with it, earlier messages are the dictionary.
    const dictionary = resetEach || i === 0 ? undefined : Buffer.concat(messages.slice(Math.max(0, i - 4), i)).subarray(-(1 << windowBits));
    const compressed = zlib.deflateRawSync(messages[i]!, { windowBits, level, finishFlush: zlib.constants.Z_SYNC_FLUSH, ...(dictionary && dictionary.length > 0 ? { dictionary } : {}) });
    out.push(compressed.subarray(0, compressed.length - 4));
  }
  return out;
}

/** Decodes one message directly and checks the outcome. */
function decodeOne(extension: PerMessageDeflate, input: Buffer, original: Buffer | null, limit: number): string {
  try {
    const output = extension.decode(Buffer.from(input), RSV1, true, limit);
    expect(output.length <= limit, `${output.length} bytes inflated past the ${limit}-byte limit`, input);
    if (original !== null) expect(output.equals(original), 'a valid message did not inflate to its original', input);
    return 'message';
  } catch (error) {
    if (!(error instanceof RemoteProtocolError)) throw error;
    expect(DECODE_ERRORS.get(error.code) === error.closeCode, `undocumented decode error ${error.code}`, input);
    if (original !== null) expect(original.length > limit && error.closeCode === 1009, `a valid message of ${original.length} bytes failed with ${error.code}`, input);
    return `close:${error.closeCode}`;
  }
}

function directCase(random: Random): string {
  const extension = negotiate(random);
  const { windowBits, noContextTakeover } = extension.settings.decompress;
  const limit = random.pick([0, 100, 4096, 65536, 1 << 20]);
  let messages: Buffer[];
  let compressed: Buffer[];
  if (random.chance(0.15)) {
    // A bomb: up to 16 MiB of zeros in a few KiB.
    const size = random.pick([70_000, 1 << 20, (1 << 20) + 1, 16 << 20]);
    messages = [zeroRun(size)];
    compressed = [compressedZeros(size, Math.max(9, windowBits))];
  } else {
    messages = Array.from({ length: noContextTakeover ? 1 : random.range(1, 3) }, () => content(random));
    compressed = compressAll(messages, Math.max(9, windowBits), random.range(0, 9), noContextTakeover);
  }
  let label = 'message';
  // With context takeover a message inflates to its original only if every earlier one did.
  let clean = true;
  try {
    for (let i = 0; i < compressed.length; i++) {
      const roll = random.int(10);
      const mutated = roll < 4 ? null : roll < 9 ? mutate(random, compressed[i]!) : random.bytes(random.size(512));
      clean &&= mutated === null;
      label = decodeOne(extension, mutated ?? compressed[i]!, clean ? messages[i]! : null, limit);
      if (label !== 'message') break;
    }
  } finally {
    extension.dispose();
  }
  expect(!extension.holdsZlibMemory, 'zlib memory kept after dispose()');
  return label;
}

function connectionCase(random: Random): string {
  const extension = negotiate(random);
  const { windowBits, noContextTakeover } = extension.settings.decompress;
  const messages = Array.from({ length: random.range(1, 3) }, () => content(random));
  const compressed = compressAll(messages, Math.max(9, windowBits), 6, noContextTakeover);
  const frames = compressed.map((payload) => encodeFrameToBuffer(Opcode.BINARY, payload, { rsv: RSV1, maskKey: random.bytes(4) }));
  const stream = Buffer.concat(frames);
  const input = random.chance(0.3) ? stream : mutate(random, stream);
  const maxMessageSize = random.pick([1000, 65536, 1 << 20]);
  try {
    return `connection-${runConnectionCase(random, 'server', input, { maxMessageSize, maxFrameSize: maxMessageSize, maxFragments: 1024, extensions: [extension] })}`;
  } finally {
    extension.dispose();
  }
}

export const deflateHarness: Harness = {
  name: 'deflate',
  run(random) {
    return random.chance(0.7) ? directCase(random) : connectionCase(random);
  },
};
