// RFC 7692: permessage-deflate byte for byte (the §7.2.3 examples first), negotiation tables and bounds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Opcode, RSV1 } from '../../src/protocol/frame.js';
import { compressedBound } from '../../src/protocol/limits.js';
import { parseExtensions, type ExtensionParam } from '../../src/protocol/headers.js';
import {
  DeflateParamsError,
  PerMessageDeflate,
  PerMessageDeflateClient,
  PerMessageDeflateServer,
  type DeflateExtensionSettings,
} from '../../src/protocol/permessage-deflate.js';
import { clientFrame, frame, Recorder } from './recorder.js';

const settings = (overrides: Partial<DeflateExtensionSettings> = {}): DeflateExtensionSettings => ({
  compress: { noContextTakeover: false, windowBits: 15 },
  decompress: { noContextTakeover: false, windowBits: 15 },
  level: 6,
  memLevel: 8,
  threshold: 0,
  ...overrides,
});
const deflate = (overrides: Partial<DeflateExtensionSettings> = {}): PerMessageDeflate => new PerMessageDeflate(settings(overrides));

describe('§7.2.3 examples: sending "Hello"', () => {
  it('7.2.3.1: one compressed block, RSV1 on the frame', () => {
    const rec = new Recorder('server', { extensions: [deflate()] });
    rec.connection.sendText('Hello');
    assert.equal(rec.output(), 'c107f248cdc9c90700');
  });
  it('7.2.3.2: with context takeover the second "Hello" refers back to the first', () => {
    const rec = new Recorder('server', { extensions: [deflate()] });
    rec.connection.sendText('Hello');
    rec.connection.sendText('Hello');
    assert.equal(rec.output(), 'c107f248cdc9c90700' + 'c105f200110000');
  });
  it('without context takeover every message stands alone', () => {
    const rec = new Recorder('server', { extensions: [deflate({ compress: { noContextTakeover: true, windowBits: 15 } })] });
    rec.connection.sendText('Hello');
    rec.connection.sendText('Hello');
    assert.equal(rec.output(), 'c107f248cdc9c90700'.repeat(2));
  });
  it('control frames are never compressed', () => {
    const rec = new Recorder('server', { extensions: [deflate()] });
    rec.connection.sendPing(Buffer.from('Hello'));
    rec.connection.sendClose(1000, 'Hello');
    assert.equal(rec.output(), '890548656c6c6f' + '880703e848656c6c6f');
  });
  it('messages under the threshold, and compress: false, go uncompressed without RSV1', () => {
    const rec = new Recorder('server', { extensions: [deflate({ threshold: 6 })] });
    rec.connection.sendText('Hello');
    rec.connection.sendText('Hello!', { compress: false });
    assert.equal(rec.output(), '810548656c6c6f' + '810648656c6c6f21');
  });
});

describe('§7.2.3 examples: receiving "Hello" (client role)', () => {
  const table: Array<[string, string[]]> = [
    ['7.2.3.1 one compressed block', ['c107f248cdc9c90700']],
    ['7.2.3.1 fragmented: RSV1 on the first frame only', ['4103f248cd', '8004c9c90700']],
    ['7.2.3.3 a block with no compression', ['c10b000500faff48656c6c6f00']],
    ['7.2.3.4 a block with BFINAL set', ['c108f348cdc9c9070000']],
    ['7.2.3.5 two blocks in one message', ['c10df24805000000ffffcac9c90700']],
  ];
  for (const [name, frames] of table) {
    it(name, () => {
      const rec = new Recorder('client', { extensions: [deflate()] });
      for (const bytes of frames) rec.receive(bytes);
      assert.deepEqual(rec.events, [{ type: 'text', data: 'Hello' }]);
    });
  }
  it('7.2.3.2 sharing the LZ77 window across messages', () => {
    const rec = new Recorder('client', { extensions: [deflate()] }).receive('c107f248cdc9c90700').receive('c105f200110000');
    assert.deepEqual(rec.events, [{ type: 'text', data: 'Hello' }, { type: 'text', data: 'Hello' }]);
  });
  it('after a BFINAL block the next message starts a new stream', () => {
    const rec = new Recorder('client', { extensions: [deflate()] }).receive('c108f348cdc9c9070000').receive('c107f248cdc9c90700');
    assert.deepEqual(rec.events, [{ type: 'text', data: 'Hello' }, { type: 'text', data: 'Hello' }]);
  });
  it('an uncompressed message (RSV1 clear) passes through', () => {
    const rec = new Recorder('client', { extensions: [deflate()] }).receive('810548656c6c6f');
    assert.deepEqual(rec.events, [{ type: 'text', data: 'Hello' }]);
  });
});

describe('framing rules with deflate negotiated (server role)', () => {
  const table: Array<{ name: string; input: Buffer; code: string; closeCode: number }> = [
    {
      name: 'RSV1 on a continuation frame',
      input: Buffer.concat([clientFrame(Opcode.TEXT, Buffer.from('f248', 'hex'), { fin: false, rsv: RSV1 }), clientFrame(Opcode.CONTINUATION, 'x', { rsv: RSV1 })]),
      code: 'SB_ERR_RESERVED_BITS',
      closeCode: 1002,
    },
    { name: 'RSV1 on a ping', input: clientFrame(Opcode.PING, '', { rsv: RSV1 }), code: 'SB_ERR_RESERVED_BITS', closeCode: 1002 },
    { name: 'RSV2 (not claimed by deflate)', input: clientFrame(Opcode.TEXT, 'x', { rsv: 0x20 }), code: 'SB_ERR_RESERVED_BITS', closeCode: 1002 },
    { name: 'corrupt compressed data', input: clientFrame(Opcode.TEXT, Buffer.from('ffffffff', 'hex'), { rsv: RSV1 }), code: 'SB_ERR_INFLATE_FAILED', closeCode: 1007 },
    {
      name: 'compressed text that inflates to invalid UTF-8',
      input: clientFrame(Opcode.TEXT, zlib.deflateRawSync(Buffer.from([0x48, 0xff, 0x49])), { rsv: RSV1 }),
      code: 'SB_ERR_INVALID_UTF8',
      closeCode: 1007,
    },
  ];
  for (const { name, input, code, closeCode } of table) {
    it(name, () => {
      const rec = new Recorder('server', { extensions: [deflate()] }).receive(input);
      assert.deepEqual(rec.events, [{ type: 'violation', code, closeCode }, { type: 'end' }]);
    });
  }

  it('a fragmented compressed binary message of 1 MiB round-trips', () => {
    const data = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7) & 0x3f));
    const compressed = zlib.deflateRawSync(data);
    const half = compressed.length >> 1;
    const rec = new Recorder('server', { extensions: [deflate()], maxMessageSize: 2 << 20 }).receive(
      Buffer.concat([clientFrame(Opcode.BINARY, compressed.subarray(0, half), { fin: false, rsv: RSV1 }), clientFrame(Opcode.CONTINUATION, compressed.subarray(half))]),
    );
    assert.equal(rec.events.length, 1);
    assert.equal((rec.events[0] as { data: string }).data, data.toString('hex'));
  });
});

describe('maxMessageSize bounds the decoded message; the wire, its deflated bound', () => {
  const LIMIT = 64 * 1024;
  const random = randomBytes(LIMIT);

  it('incompressible data of exactly maxMessageSize, larger once deflated, is accepted', () => {
    const compressed = zlib.deflateRawSync(random, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.ok(compressed.length > LIMIT, `${compressed.length} bytes on the wire`);
    const rec = new Recorder('server', { extensions: [deflate()], maxMessageSize: LIMIT }).receive(clientFrame(Opcode.BINARY, compressed, { rsv: RSV1 }));
    assert.deepEqual(rec.events, [{ type: 'binary', data: random.toString('hex') }]);
  });

  it('fragmented, the same message is accepted too', () => {
    const compressed = zlib.deflateRawSync(random, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const half = compressed.length >> 1;
    const rec = new Recorder('server', { extensions: [deflate()], maxMessageSize: LIMIT }).receive(
      Buffer.concat([clientFrame(Opcode.BINARY, compressed.subarray(0, half), { fin: false, rsv: RSV1 }), clientFrame(Opcode.CONTINUATION, compressed.subarray(half))]),
    );
    assert.equal(rec.events.length, 1);
  });

  it('one decoded byte over the limit is refused (1009)', () => {
    const compressed = zlib.deflateRawSync(Buffer.concat([random, Buffer.from([1])]));
    const rec = new Recorder('server', { extensions: [deflate()], maxMessageSize: LIMIT }).receive(clientFrame(Opcode.BINARY, compressed, { rsv: RSV1 }));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_MESSAGE_TOO_LARGE', closeCode: 1009 }, { type: 'end' }]);
  });

  it('an uncompressed message keeps the plain limit on the wire', () => {
    const rec = new Recorder('server', { extensions: [deflate()], maxMessageSize: LIMIT }).receive(clientFrame(Opcode.BINARY, Buffer.concat([random, Buffer.from([1])])));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_FRAME_TOO_LARGE', closeCode: 1009 }, { type: 'end' }]);
  });

  it('compressed bytes past compressedBound(limit) are refused before inflating', () => {
    const wire = compressedBound(1024) + 5;
    const emptyBlocks = Buffer.concat(Array.from({ length: Math.ceil(wire / 5) }, () => Buffer.from('000000ffff', 'hex')));
    const rec = new Recorder('server', { extensions: [deflate()], maxMessageSize: 1024 }).receive(clientFrame(Opcode.BINARY, emptyBlocks, { rsv: RSV1 }));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_FRAME_TOO_LARGE', closeCode: 1009 }, { type: 'end' }]);
    const fragmented = new Recorder('server', { extensions: [deflate()], maxMessageSize: 1024 }).receive(
      Buffer.concat([
        clientFrame(Opcode.BINARY, emptyBlocks.subarray(0, 1000), { fin: false, rsv: RSV1 }),
        clientFrame(Opcode.CONTINUATION, emptyBlocks.subarray(1000)),
      ]),
    );
    assert.deepEqual(fragmented.events, [{ type: 'violation', code: 'SB_ERR_MESSAGE_TOO_LARGE', closeCode: 1009 }, { type: 'end' }]);
  });
});

describe('decompression bombs', () => {
  it('a few KiB that inflate past the limit end in 1009', () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(8 << 20));
    assert.ok(bomb.length < 16 * 1024, `bomb of ${bomb.length} bytes`);
    const rec = new Recorder('server', { extensions: [deflate()], maxMessageSize: 1 << 20 }).receive(clientFrame(Opcode.BINARY, bomb, { rsv: RSV1 }));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_MESSAGE_TOO_LARGE', closeCode: 1009 }, { type: 'end' }]);
  });

  it('memory stays bounded: a 1 GiB bomb against a 1 MiB limit raises peak RSS by far less than 1 GiB', async () => {
    // Run in a fresh process so that its peak RSS belongs to this check alone.
    const script = `
      import zlib from 'node:zlib';
      import { Connection } from './src/protocol/connection.js';
      import { PerMessageDeflate } from './src/protocol/permessage-deflate.js';
      const bomb = zlib.deflateRawSync(Buffer.alloc(1 << 30));
      const frame = Buffer.concat([Buffer.from([0xc2, 0xff, 0, 0, 0, 0]), Buffer.alloc(4), Buffer.alloc(4), bomb]);
      frame.writeUInt32BE(bomb.length, 6);
      global.gc();
      const before = process.resourceUsage().maxRSS;
      let closeCode = 0;
      const extension = new PerMessageDeflate({ compress: { noContextTakeover: true, windowBits: 15 }, decompress: { noContextTakeover: true, windowBits: 15 }, level: 1, memLevel: 8, threshold: 0 });
      const connection = new Connection({ role: 'server', extensions: [extension], maxMessageSize: 2 << 20 },
        { write() {}, end() {}, violation(error) { closeCode = error.closeCode; } });
      connection.receiveData(frame);
      console.log(JSON.stringify({ closeCode, compressed: bomb.length, peakGrowthKiB: process.resourceUsage().maxRSS - before }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { maxBuffer: 1 << 20 });
    const result = JSON.parse(stdout) as { closeCode: number; compressed: number; peakGrowthKiB: number };
    assert.equal(result.closeCode, 1009);
    assert.ok(result.peakGrowthKiB < 32 * 1024, `peak RSS grew by ${result.peakGrowthKiB} KiB`);
  });
});

describe('negotiation, server side (RFC 7692 §7.1)', () => {
  const answer = (header: string, options = {}): string | null => {
    const offers = parseExtensions(header).map((offer) => offer.params);
    const result = new PerMessageDeflateServer(options).negotiate(offers);
    if (!result) return null;
    return result.params.map(([name, value]) => (value === true ? name : `${name}=${value}`)).join('; ');
  };
  const table: Array<[offer: string, expected: string | null, options?: object]> = [
    ['permessage-deflate', 'server_no_context_takeover; client_no_context_takeover'],
    ['permessage-deflate; client_max_window_bits', 'server_no_context_takeover; client_no_context_takeover'],
    ['permessage-deflate; client_max_window_bits=10', 'server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10'],
    ['permessage-deflate; server_max_window_bits=10', 'server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10'],
    ['permessage-deflate; server_max_window_bits=15', 'server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15'],
    ['permessage-deflate; server_max_window_bits=8', null],
    ['permessage-deflate; server_max_window_bits', null],
    ['permessage-deflate; server_max_window_bits=16', null],
    ['permessage-deflate; server_max_window_bits=7', null],
    ['permessage-deflate; server_max_window_bits=ten', null],
    ['permessage-deflate; client_max_window_bits=16', null],
    ['permessage-deflate; server_no_context_takeover=1', null],
    ['permessage-deflate; client_no_context_takeover; client_no_context_takeover', null],
    ['permessage-deflate; mystery', null],
    ['permessage-deflate; mystery, permessage-deflate; server_max_window_bits=12', 'server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12'],
    ['permessage-deflate', '', { serverNoContextTakeover: false, clientNoContextTakeover: false }],
    ['permessage-deflate; server_no_context_takeover', 'server_no_context_takeover', { serverNoContextTakeover: false, clientNoContextTakeover: false }],
    ['permessage-deflate; client_max_window_bits', 'client_max_window_bits=11', { serverNoContextTakeover: false, clientNoContextTakeover: false, clientMaxWindowBits: 11 }],
    ['permessage-deflate', 'server_max_window_bits=12', { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 12 }],
  ];
  for (const [offer, expected, options] of table) {
    it(`${offer}${options ? ` with ${JSON.stringify(options)}` : ''} → ${expected === null ? 'declined' : expected || '(no parameters)'}`, () => {
      assert.equal(answer(offer, options), expected);
    });
  }
  it('the answer decides how the extension compresses', () => {
    const result = new PerMessageDeflateServer({ level: 3 }).negotiate([[['server_max_window_bits', '10']]]);
    const extension = result!.extension as PerMessageDeflate;
    assert.deepEqual(extension.settings.compress, { noContextTakeover: true, windowBits: 10 });
    assert.equal(extension.settings.level, 3);
    assert.notEqual(extension.sharedEncodingKey, null, 'without context takeover the encoding can be shared');
  });
  it('rejects invalid options', () => {
    assert.throws(() => new PerMessageDeflateServer({ serverMaxWindowBits: 8 }), RangeError);
    assert.throws(() => new PerMessageDeflateServer({ level: 10 }), RangeError);
  });
});

describe('negotiation, client side', () => {
  const accept = (response: string, options = {}): string => {
    const params = (parseExtensions(`permessage-deflate${response ? '; ' + response : ''}`)[0]!.params) as ExtensionParam[];
    try {
      const extension = new PerMessageDeflateClient(options).accept(params) as PerMessageDeflate;
      return `ok ${JSON.stringify(extension.settings.compress)}`;
    } catch (error) {
      assert.ok(error instanceof DeflateParamsError);
      return 'fail';
    }
  };
  it('offers client_max_window_bits by default, and what its options ask', () => {
    assert.deepEqual(new PerMessageDeflateClient().offer(), [['client_max_window_bits', true]]);
    assert.deepEqual(new PerMessageDeflateClient({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }).offer(), [
      ['server_no_context_takeover', true],
      ['client_no_context_takeover', true],
      ['server_max_window_bits', '10'],
      ['client_max_window_bits', '12'],
    ]);
  });
  const table: Array<[response: string, expected: string, options?: object]> = [
    ['', 'ok {"noContextTakeover":false,"windowBits":15}'],
    ['client_no_context_takeover', 'ok {"noContextTakeover":true,"windowBits":15}'],
    ['client_max_window_bits=10', 'ok {"noContextTakeover":false,"windowBits":10}'],
    ['server_no_context_takeover; server_max_window_bits=9', 'ok {"noContextTakeover":false,"windowBits":15}'],
    ['client_max_window_bits', 'fail'],
    ['client_max_window_bits=8', 'fail'],
    ['server_max_window_bits=16', 'fail'],
    ['server_max_window_bits=12', 'fail', { serverMaxWindowBits: 10 }],
    ['client_max_window_bits=12', 'fail', { clientMaxWindowBits: 10 }],
    ['', 'fail', { serverNoContextTakeover: true }],
    ['mystery', 'fail'],
    ['client_no_context_takeover; client_no_context_takeover', 'fail'],
  ];
  for (const [response, expected, options] of table) {
    it(`answer "${response}"${options ? ` to ${JSON.stringify(options)}` : ''} → ${expected}`, () => assert.equal(accept(response, options), expected));
  }
});

describe('memory', () => {
  it('without context takeover a connection never holds zlib memory of its own', () => {
    const extension = deflate({ compress: { noContextTakeover: true, windowBits: 15 }, decompress: { noContextTakeover: true, windowBits: 15 } });
    const rec = new Recorder('client', { extensions: [extension] });
    rec.connection.sendText('Hello Hello Hello');
    rec.receive('c107f248cdc9c90700');
    assert.equal(extension.holdsZlibMemory, false);
  });
  it('with context takeover, zlib memory is allocated on first use and freed on dispose', () => {
    const extension = deflate();
    assert.equal(extension.holdsZlibMemory, false, 'nothing before the first message');
    const rec = new Recorder('client', { extensions: [extension] });
    rec.connection.sendText('Hello Hello Hello');
    assert.equal(extension.holdsZlibMemory, true);
    extension.dispose();
    assert.equal(extension.holdsZlibMemory, false);
  });
  it('frames received from an uncompressed peer never allocate', () => {
    const extension = deflate();
    new Recorder('server', { extensions: [extension] }).receive(frame(Opcode.TEXT, 'plain', { maskKey: [1, 2, 3, 4] }));
    assert.equal(extension.holdsZlibMemory, false);
  });
});

describe('empty messages', () => {
  it('an empty message after others is one 00 byte (an empty stored block without its tail)', () => {
    const rec = new Recorder('server', { extensions: [deflate()] });
    rec.connection.sendText('');
    rec.connection.sendText('');
    assert.equal(rec.output(), 'c10100' + 'c10100');
    const reader = new Recorder('client', { extensions: [deflate()] }).receive('c10100c10100').receive('c107f248cdc9c90700');
    assert.deepEqual(reader.events, [{ type: 'text', data: '' }, { type: 'text', data: '' }, { type: 'text', data: 'Hello' }]);
  });
});

describe('properties', () => {
  it('any chunking of a stream of compressed messages gives the same messages, with or without context takeover', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 400 }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 10 }),
        (texts, takeover, cuts) => {
          // The peer compresses like a client would, keeping its window across messages or not;
          // without takeover, Node's one-shot zlib (an independent encoder) makes each message.
          const compress = (text: string): Buffer => {
            const out = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
            return out.subarray(0, out.length - 4);
          };
          let stream = Buffer.alloc(0);
          const peer = deflate({ compress: { noContextTakeover: !takeover, windowBits: 15 } });
          for (const text of texts) {
            const encoded = takeover ? peer.encode(Buffer.from(text), false, {}) : { data: compress(text), rsv: RSV1 };
            stream = Buffer.concat([stream, frame(Opcode.TEXT, encoded.data, { rsv: encoded.rsv, maskKey: [9, 8, 7, 6] })]);
          }
          peer.dispose();
          const rec = new Recorder('server', { extensions: [deflate({ decompress: { noContextTakeover: !takeover, windowBits: 15 } })] });
          const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
          let start = 0;
          for (const point of [...points, stream.length]) {
            rec.receive(stream.subarray(start, point));
            start = point;
          }
          assert.deepEqual(rec.events, texts.map((data) => ({ type: 'text', data })));
        },
      ),
      { numRuns: 300 },
    );
  });
});
