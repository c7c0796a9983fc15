/**
 * The Node client (`switchboard/client`) against a `ws` server and raw `net`
 * servers, through real sockets on port 0.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import {
  CloseEvent,
  ErrorEvent,
  HandshakeError,
  LocalProtocolError,
  RemoteProtocolError,
  WebSocket,
  type MessageData,
} from '../../src/node/client-index.js';
import {
  closePayload,
  closed,
  messages,
  nextEvent,
  nextMessage,
  onClientFrames,
  opened,
  recordUntilClose,
  serverFrame,
  startRawServer,
  startWsServer,
  switchingProtocols,
  type WsPeer,
} from './client-helpers.js';

/** Expects a DOMException with the given name. */
function throwsDom(fn: () => unknown, name: string): void {
  assert.throws(fn, (error: unknown) => error instanceof DOMException && error.name === name);
}

/** Opens a client, runs `body`, then makes sure the client is closed. */
async function withClient(
  url: string,
  body: (ws: WebSocket) => Promise<void>,
  protocols?: string | string[],
  options?: ConstructorParameters<typeof WebSocket>[2],
): Promise<void> {
  const ws = new WebSocket(url, protocols, options);
  const done = closed(ws);
  try {
    await opened(ws);
    await body(ws);
  } finally {
    if (ws.readyState !== WebSocket.CLOSED) {
      ws.close();
      await done;
    }
  }
}

async function blobBytes(data: MessageData): Promise<Buffer> {
  assert.ok(data instanceof Blob, 'expected a Blob');
  return Buffer.from(await data.arrayBuffer());
}

// ------------------------------------------------------------------ argument checks

describe('constructor argument checks', () => {
  const invalidUrls: Array<[string, string]> = [
    ['not a url', 'unparsable'],
    ['/relative/path', 'relative'],
    ['ftp://127.0.0.1/', 'other scheme'],
    ['file:///tmp/socket', 'file scheme'],
    ['ws://127.0.0.1/#frag', 'fragment'],
    ['ws://127.0.0.1/#', 'empty fragment'],
    ['wss://127.0.0.1/path#x', 'fragment on wss'],
  ];
  for (const [url, label] of invalidUrls) {
    test(`URL ${label} (${url}) → SyntaxError`, () => {
      throwsDom(() => new WebSocket(url), 'SyntaxError');
    });
  }

  const invalidProtocols: Array<[string | string[], string]> = [
    ['', 'empty string'],
    [['chat', 'chat'], 'duplicate'],
    [['chat', 'CHAT'], 'duplicate differing in case'],
    ['a b', 'space'],
    [['a,b'], 'comma'],
    [['ok', 'bad\u00e9'], 'non-ASCII'],
    [['ok', '(paren)'], 'separator'],
  ];
  for (const [protocols, label] of invalidProtocols) {
    test(`protocols ${label} → SyntaxError`, () => {
      throwsDom(() => new WebSocket('ws://127.0.0.1:1/', protocols), 'SyntaxError');
    });
  }

  test('reserved request headers are refused synchronously', () => {
    for (const name of ['Upgrade', 'connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Protocol']) {
      assert.throws(
        () => new WebSocket('ws://127.0.0.1:1/', [], { headers: { [name]: 'x' } }),
        (error: unknown) => error instanceof LocalProtocolError && error.code === 'SB_ERR_INVALID_ARGUMENT',
      );
    }
    assert.throws(() => new WebSocket('ws://127.0.0.1:1/', [], { headers: { 'X-Evil': 'a\r\nInjected: 1' } }), LocalProtocolError);
    assert.throws(() => new WebSocket('ws://127.0.0.1:1/', [], { headers: { 'Bad Name': 'x' } }), LocalProtocolError);
  });

  const conversions: Array<[string, string]> = [
    ['http://127.0.0.1:1/a?b=c', 'ws://127.0.0.1:1/a?b=c'],
    ['https://127.0.0.1:1/', 'wss://127.0.0.1:1/'],
    ['https://127.0.0.1:443/', 'wss://127.0.0.1/'],
    ['ws://127.0.0.1:1', 'ws://127.0.0.1:1/'],
    ['WS://LOCALHOST:1/Path', 'ws://localhost:1/Path'],
  ];
  for (const [input, expected] of conversions) {
    test(`URL ${input} is serialized as ${expected}`, async () => {
      const ws = new WebSocket(input);
      assert.equal(ws.url, expected);
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      const done = closed(ws);
      ws.close();
      assert.equal((await done).code, 1006);
    });
  }

  test('a URL object is accepted', async () => {
    const ws = new WebSocket(new URL('ws://127.0.0.1:1/x'), ['a', 'b']);
    assert.equal(ws.url, 'ws://127.0.0.1:1/x');
    const done = closed(ws);
    ws.close();
    await done;
  });
});

describe('readyState and constants', () => {
  test('constants are on the constructor and the prototype', () => {
    assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
    assert.deepEqual([WebSocket.prototype.CONNECTING, WebSocket.prototype.OPEN, WebSocket.prototype.CLOSING, WebSocket.prototype.CLOSED], [0, 1, 2, 3]);
  });

  test('CONNECTING → OPEN → CLOSING → CLOSED, and send() while CONNECTING throws', async () => {
    const peer = await startWsServer();
    try {
      const ws = new WebSocket(peer.url);
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      assert.equal(ws.binaryType, 'blob');
      assert.equal(ws.protocol, '');
      assert.equal(ws.extensions, '');
      assert.equal(ws.bufferedAmount, 0);
      throwsDom(() => ws.send('too early'), 'InvalidStateError');
      const states: number[] = [];
      ws.onopen = () => states.push(ws.readyState);
      await opened(ws);
      const done = closed(ws);
      ws.close();
      states.push(ws.readyState);
      const event = await done;
      states.push(ws.readyState);
      assert.deepEqual(states, [1, 2, 3]);
      assert.ok(event instanceof CloseEvent);
      assert.equal(event.wasClean, true);
      assert.equal(event.code, 1005, 'close() without a code sends an empty close frame, echoed empty');
    } finally {
      await peer.close();
    }
  });
});

describe('close() argument checks', () => {
  let peer: WsPeer;
  before(async () => {
    peer = await startWsServer();
  });
  after(() => peer.close());

  const invalidCodes: unknown[] = [0, 999, 1001, 1005, 1006, 1015, 2999, 5000, 65535, 'reason only', null, Number.NaN];
  for (const code of invalidCodes) {
    test(`close(${String(code)}) → InvalidAccessError`, async () => {
      await withClient(peer.url, async (ws) => {
        throwsDom(() => ws.close(code as number), 'InvalidAccessError');
        assert.equal(ws.readyState, WebSocket.OPEN);
      });
    });
  }

  const tooLong: Array<[string, string]> = [
    ['x'.repeat(124), '124 ASCII bytes'],
    ['\u00e9'.repeat(62), '62 two-byte characters'],
    ['\u{1F600}'.repeat(31), '31 four-byte characters'],
  ];
  for (const [reason, label] of tooLong) {
    test(`close(1000, ${label}) → SyntaxError`, async () => {
      await withClient(peer.url, async (ws) => {
        throwsDom(() => ws.close(1000, reason), 'SyntaxError');
        assert.equal(ws.readyState, WebSocket.OPEN);
      });
    });
  }

  test('arguments are checked even when already CLOSED', async () => {
    const ws = new WebSocket(peer.url);
    await opened(ws);
    const done = closed(ws);
    ws.close();
    await done;
    throwsDom(() => ws.close(1001), 'InvalidAccessError');
    throwsDom(() => ws.close(1000, 'x'.repeat(200)), 'SyntaxError');
    ws.close(1000); // valid arguments on a closed socket: nothing happens
  });

  const accepted: Array<[number | undefined, string | undefined, number, string, string]> = [
    [1000, undefined, 1000, '', 'code 1000'],
    [3000, 'three thousand', 3000, 'three thousand', 'lowest application code'],
    [4999, '\u00e9'.repeat(61) + 'a', 4999, '\u00e9'.repeat(61) + 'a', 'highest code, 123-byte reason'],
    [1000.4, undefined, 1000, '', 'code clamped to an integer'],
    [undefined, 'bye', 1000, 'bye', 'a reason alone goes with 1000'],
    [undefined, undefined, 1005, '', 'no arguments: empty close frame'],
  ];
  for (const [code, reason, wireCode, wireReason, label] of accepted) {
    test(`close(${String(code)}, ${reason === undefined ? 'undefined' : JSON.stringify(reason.slice(0, 8))}) — ${label}`, async () => {
      const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
      const ws = new WebSocket(peer.url);
      const [socket] = await serverSide;
      const serverClose = once(socket, 'close') as Promise<[number, Buffer]>;
      await opened(ws);
      const done = closed(ws);
      ws.close(code, reason);
      const [receivedCode, receivedReason] = await serverClose;
      assert.equal(receivedCode, wireCode);
      assert.equal(receivedReason.toString(), wireReason);
      const event = await done;
      assert.equal(event.wasClean, true);
      assert.equal(event.code, wireCode);
    });
  }
});

// ------------------------------------------------------------------ data

describe('messages through a ws echo server', () => {
  let peer: WsPeer;
  before(async () => {
    peer = await startWsServer({ maxPayload: 4 * 1024 * 1024 });
  });
  after(() => peer.close());

  test('text', async () => {
    await withClient(peer.url, async (ws) => {
      ws.send('hello');
      assert.equal(await nextMessage(ws), 'hello');
      ws.send('');
      assert.equal(await nextMessage(ws), '');
    });
  });

  test('multi-byte UTF-8', async () => {
    const samples = ['h\u00e9llo w\u00f6rld', '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8', '\u{1F600}\u{1F680}\u{1F30D}', 'e\u0301 \u202eRTL', '\u0000\u007f\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}'];
    await withClient(peer.url, async (ws) => {
      const received = messages(ws, samples.length);
      for (const sample of samples) ws.send(sample);
      assert.deepEqual(await received, samples);
    });
  });

  test('binary with all 256 byte values (nodebuffer)', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await withClient(peer.url, async (ws) => {
      ws.binaryType = 'nodebuffer';
      ws.send(bytes);
      const data = await nextMessage(ws);
      assert.ok(Buffer.isBuffer(data));
      assert.deepEqual(data, bytes);
    });
  });

  test('a 1 MiB binary message and a 1 MiB text message', async () => {
    const binary = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < binary.length; i++) binary[i] = (i * 31 + 7) & 0xff;
    const text = '\u00e9'.repeat(512 * 1024); // 1 MiB of UTF-8
    await withClient(peer.url, async (ws) => {
      ws.binaryType = 'arraybuffer';
      const received = messages(ws, 2);
      ws.send(binary);
      ws.send(text);
      const [first, second] = await received;
      assert.ok(first instanceof ArrayBuffer);
      assert.equal(first.byteLength, binary.length);
      assert.ok(Buffer.from(first).equals(binary));
      assert.equal(second, text);
    });
  });

  test('a burst of 1000 messages keeps its order both ways', async () => {
    await withClient(peer.url, async (ws) => {
      const received = messages(ws, 1000);
      for (let i = 0; i < 1000; i++) ws.send(`message ${i}`);
      assert.deepEqual(
        await received,
        Array.from({ length: 1000 }, (_, i) => `message ${i}`),
      );
    });
  });

  test('send() accepts ArrayBuffer, typed arrays, DataView, Blob and other values', async () => {
    await withClient(peer.url, async (ws) => {
      ws.binaryType = 'nodebuffer';
      const received = messages(ws, 6);
      const backing = new Uint16Array([0x0102, 0x0304, 0x0506, 0x0708]);
      ws.send(new Uint8Array([1, 2, 3]).buffer);
      ws.send(backing.subarray(1, 3));
      ws.send(new DataView(backing.buffer, 2, 2));
      ws.send(new Blob(['bl', new Uint8Array([0x6f, 0x62])]));
      ws.send(42 as unknown as string);
      ws.send(Buffer.from('buffer'));
      const [a, b, c, d, e, f] = await received;
      assert.deepEqual(a, Buffer.from([1, 2, 3]));
      assert.deepEqual(b, Buffer.from(backing.buffer, 2, 4));
      assert.deepEqual(c, Buffer.from(backing.buffer, 2, 2));
      assert.deepEqual(d, Buffer.from('blob'));
      assert.equal(e, '42');
      assert.deepEqual(f, Buffer.from('buffer'));
    });
  });

  test('Blob sends keep their order relative to other sends', async () => {
    await withClient(peer.url, async (ws) => {
      ws.binaryType = 'nodebuffer';
      const received = messages(ws, 5);
      const big = new Blob([Buffer.alloc(256 * 1024, 1)]);
      const bytes = new Uint8Array([9, 9, 9]);
      ws.send('first');
      ws.send(big);
      ws.send(bytes);
      bytes.fill(0); // changed after send(): the queued copy must not change
      ws.send(new Blob(['small']));
      ws.send('last');
      const result = await received;
      assert.equal(result[0], 'first');
      assert.equal((result[1] as Buffer).length, 256 * 1024);
      assert.deepEqual(result[2], Buffer.from([9, 9, 9]));
      assert.deepEqual(result[3], Buffer.from('small'));
      assert.equal(result[4], 'last');
    });
  });

  test('close() after Blob sends delivers them before the close frame', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    const ws = new WebSocket(peer.url);
    const [socket] = await serverSide;
    const received: string[] = [];
    socket.on('message', (data) => received.push(data.toString()));
    const serverClose = once(socket, 'close') as Promise<[number, Buffer]>;
    await opened(ws);
    const done = closed(ws);
    ws.send(new Blob(['one']));
    ws.send('two');
    ws.close(4000, 'after the blobs');
    ws.send('discarded');
    const [code] = await serverClose;
    assert.deepEqual(received, ['one', 'two']);
    assert.equal(code, 4000);
    assert.equal((await done).code, 4000);
  });
});

describe('binaryType', () => {
  let peer: WsPeer;
  before(async () => {
    peer = await startWsServer();
  });
  after(() => peer.close());

  test("default 'blob'", async () => {
    await withClient(peer.url, async (ws) => {
      ws.send(new Uint8Array([0, 255, 128]));
      assert.deepEqual(await blobBytes(await nextMessage(ws)), Buffer.from([0, 255, 128]));
    });
  });

  test("'arraybuffer' gives an ArrayBuffer of exactly the message", async () => {
    await withClient(peer.url, async (ws) => {
      ws.binaryType = 'arraybuffer';
      ws.send(new Uint8Array([5, 6, 7]));
      const data = await nextMessage(ws);
      assert.ok(data instanceof ArrayBuffer);
      assert.deepEqual(new Uint8Array(data), new Uint8Array([5, 6, 7]));
    });
  });

  test("'nodebuffer' gives a Buffer; text stays a string in every mode", async () => {
    await withClient(peer.url, async (ws) => {
      ws.binaryType = 'nodebuffer';
      ws.send(new Uint8Array([1]));
      assert.ok(Buffer.isBuffer(await nextMessage(ws)));
      ws.send('text');
      assert.equal(await nextMessage(ws), 'text');
    });
  });

  test('invalid values are ignored', async () => {
    await withClient(peer.url, async (ws) => {
      ws.binaryType = 'arraybuffer';
      ws.binaryType = 'string' as 'blob';
      assert.equal(ws.binaryType, 'arraybuffer');
    });
  });

  test('MessageEvent carries the origin of the URL', async () => {
    await withClient(peer.url, async (ws) => {
      const event = nextEvent<MessageEvent>(ws, 'message');
      ws.send('x');
      const message = await event;
      assert.ok(message instanceof MessageEvent);
      assert.equal(message.origin, `ws://127.0.0.1:${peer.port}`);
    });
  });
});

describe('bufferedAmount', () => {
  let peer: WsPeer;
  before(async () => {
    peer = await startWsServer();
  });
  after(() => peer.close());

  test('counts application bytes until they are written, then returns to 0', async () => {
    await withClient(peer.url, async (ws) => {
      ws.send('h\u00e9llo'); // 6 bytes of UTF-8
      ws.send(new Uint8Array(10));
      assert.equal(ws.bufferedAmount, 16);
      await messages(ws, 2);
      assert.equal(ws.bufferedAmount, 0);
    });
  });

  test('after close(), sends are discarded and bufferedAmount grows', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    const ws = new WebSocket(peer.url);
    const [socket] = await serverSide;
    const received: string[] = [];
    socket.on('message', (data) => received.push(data.toString()));
    await opened(ws);
    const done = closed(ws);
    ws.close();
    const before = ws.bufferedAmount;
    ws.send('abc');
    ws.send(new Uint8Array(5));
    assert.equal(ws.bufferedAmount, before + 8);
    await done;
    ws.send('\u00e9'); // CLOSED: still discarded, still counted
    assert.equal(ws.bufferedAmount, before + 10);
    assert.deepEqual(received, []);
  });
});

// ------------------------------------------------------------------ events

describe('events', () => {
  let peer: WsPeer;
  before(async () => {
    peer = await startWsServer();
  });
  after(() => peer.close());

  test('on* attributes: set replaces in place, null removes, non-functions are null', async () => {
    const ws = new WebSocket(peer.url);
    const calls: string[] = [];
    ws.addEventListener('open', () => calls.push('listener 1'));
    const first = (): void => {
      calls.push('first handler');
    };
    ws.onopen = first;
    assert.equal(ws.onopen, first);
    ws.addEventListener('open', () => calls.push('listener 2'));
    ws.onopen = () => calls.push('second handler'); // keeps the handler's place, before listener 2
    ws.onerror = () => calls.push('error');
    ws.onerror = null;
    assert.equal(ws.onerror, null);
    ws.onmessage = 'not a function' as unknown as null;
    assert.equal(ws.onmessage, null);
    await opened(ws);
    assert.deepEqual(calls, ['listener 1', 'second handler', 'listener 2']);
    const done = closed(ws);
    ws.onclose = null;
    ws.close();
    await done;
    assert.deepEqual(calls, ['listener 1', 'second handler', 'listener 2']);
  });

  test('handlers are called with the WebSocket as this', async () => {
    const ws = new WebSocket(peer.url);
    let self: unknown = null;
    ws.onopen = function () {
      self = this;
    };
    await opened(ws);
    assert.equal(self, ws);
    const done = closed(ws);
    ws.close();
    await done;
  });

  test('message events stop once close() was called', async () => {
    const raw = await startRawServer((connection) => {
      connection.socket.write(switchingProtocols(connection.key));
      onClientFrames(connection, (frame) => {
        if (frame.opcode === 0x1) {
          // Three messages in one write: the client calls close() on the first.
          connection.socket.write(Buffer.concat([serverFrame(0x1, 'one'), serverFrame(0x1, 'two'), serverFrame(0x1, 'three')]));
        } else if (frame.opcode === 0x8) {
          connection.socket.end(serverFrame(0x8, frame.payload));
        }
      });
    });
    try {
      const ws = new WebSocket(raw.url);
      const received: unknown[] = [];
      ws.onmessage = (event) => {
        received.push(event.data);
        ws.close(1000);
      };
      const done = closed(ws);
      await opened(ws);
      ws.send('go');
      const event = await done;
      assert.deepEqual(received, ['one']);
      assert.equal(event.code, 1000);
      assert.equal(event.wasClean, true);
    } finally {
      await raw.close();
    }
  });

  test("'open' comes before messages sent along with the 101 response", async () => {
    const raw = await startRawServer((connection) => {
      connection.socket.write(Buffer.concat([Buffer.from(switchingProtocols(connection.key)), serverFrame(0x1, 'early'), serverFrame(0x8, closePayload(4000, 'done'))]));
      onClientFrames(connection, (frame) => {
        if (frame.opcode === 0x8) connection.socket.end();
      });
    });
    try {
      const ws = new WebSocket(raw.url);
      const record = recordUntilClose(ws);
      let readyStateInMessage = -1;
      ws.onmessage = () => {
        readyStateInMessage = ws.readyState;
      };
      const { order, close } = await record;
      assert.deepEqual(order, ['open', 'message', 'close']);
      assert.equal(readyStateInMessage, WebSocket.OPEN);
      assert.equal(close.code, 4000);
      assert.equal(close.reason, 'done');
      assert.equal(close.wasClean, true);
    } finally {
      await raw.close();
    }
  });

  test('a throwing listener does not break the connection', async () => {
    const thrown: unknown[] = [];
    process.setUncaughtExceptionCaptureCallback((error) => thrown.push(error));
    try {
      await withClient(peer.url, async (ws) => {
        ws.addEventListener('message', () => {
          throw new Error('listener failure');
        });
        ws.onmessage = () => {
          throw new Error('handler failure');
        };
        const received = messages(ws, 2);
        ws.send('a');
        ws.send('b');
        assert.deepEqual(await received, ['a', 'b']);
        ws.send('still works');
        assert.equal(await nextMessage(ws), 'still works');
      });
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(thrown.length >= 4, `errors reported: ${thrown.length}`);
      assert.ok(thrown.every((error) => error instanceof Error && /failure/.test(error.message)));
    } finally {
      process.setUncaughtExceptionCaptureCallback(null);
    }
  });

  test('close() while CONNECTING: CLOSING at once, then error and close 1006', async () => {
    const raw = await startRawServer(() => undefined); // never answers
    try {
      const ws = new WebSocket(raw.url);
      const record = recordUntilClose(ws);
      ws.close(1000, 'never mind');
      assert.equal(ws.readyState, WebSocket.CLOSING);
      const { order, close, error } = await record;
      assert.deepEqual(order, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.ok(error instanceof ErrorEvent);
      assert.equal((error.error as { code?: string }).code, 'SB_ERR_ABORTED');
    } finally {
      await raw.close();
    }
  });
});

// ------------------------------------------------------------------ handshake

describe('handshake', () => {
  test('request line, Host, Origin and extra headers', async () => {
    let head = '';
    const raw = await startRawServer((connection) => {
      head = connection.head;
      connection.socket.write(switchingProtocols(connection.key));
      onClientFrames(connection, (frame) => {
        if (frame.opcode === 0x8) connection.socket.end(serverFrame(0x8, frame.payload));
      });
    });
    try {
      await withClient(
        `${raw.url}/chat/room?id=7&x=%20`,
        async () => undefined,
        ['chat', 'superchat'],
        { origin: 'https://example.com', headers: { 'X-Trace': 'abc', Authorization: 'Bearer t' } },
      );
      const lines = head.split('\r\n');
      assert.equal(lines[0], 'GET /chat/room?id=7&x=%20 HTTP/1.1');
      assert.ok(lines.includes(`Host: 127.0.0.1:${raw.port}`));
      assert.ok(lines.includes('Origin: https://example.com'));
      assert.ok(lines.includes('X-Trace: abc'));
      assert.ok(lines.includes('Authorization: Bearer t'));
      assert.ok(lines.includes('Sec-WebSocket-Protocol: chat, superchat'));
      assert.ok(lines.includes('Sec-WebSocket-Version: 13'));
    } finally {
      await raw.close();
    }
  });

  test('subprotocol negotiated with a ws server', async () => {
    const peer = await startWsServer({ handleProtocols: (offered) => (offered.has('superchat') ? 'superchat' : false) });
    try {
      const ws = new WebSocket(peer.url, ['chat', 'superchat']);
      assert.equal(ws.protocol, '');
      await opened(ws);
      assert.equal(ws.protocol, 'superchat');
      const done = closed(ws);
      ws.close();
      await done;
      assert.equal(ws.protocol, 'superchat');
      await withClient(peer.url, async (other) => assert.equal(other.protocol, ''), 'chat');
    } finally {
      await peer.close();
    }
  });

  const rejected: Array<[string, (key: string) => string, string, number]> = [
    ['a subprotocol that was not offered', (key) => switchingProtocols(key, ['Sec-WebSocket-Protocol: other']), 'SB_ERR_UNEXPECTED_SUBPROTOCOL', 101],
    ['an extension that was not offered', (key) => switchingProtocols(key, ['Sec-WebSocket-Extensions: x-webkit-deflate-frame']), 'SB_ERR_UNEXPECTED_EXTENSION', 101],
    ['a wrong Sec-WebSocket-Accept', () => switchingProtocols('AAAAAAAAAAAAAAAAAAAAAA=='), 'SB_ERR_INVALID_ACCEPT', 101],
    ['status 403', () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n', 'SB_ERR_UNEXPECTED_STATUS', 403],
    ['status 200', () => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'SB_ERR_UNEXPECTED_STATUS', 200],
    ['a missing Upgrade header', (key) => switchingProtocols(key).replace('Upgrade: websocket\r\n', ''), 'SB_ERR_NOT_UPGRADE', 101],
    ['a malformed status line', () => 'HTTP/1.1 abc\r\n\r\n', 'SB_ERR_HTTP_SYNTAX', 400],
  ];
  for (const [label, response, code, status] of rejected) {
    test(`a response with ${label} → error + close 1006`, async () => {
      const raw = await startRawServer((connection) => connection.socket.write(response(connection.key)));
      try {
        const ws = new WebSocket(raw.url, 'chat');
        const { order, close, error } = await recordUntilClose(ws);
        assert.deepEqual(order, ['error', 'close']);
        assert.equal(close.code, 1006);
        assert.equal(close.wasClean, false);
        assert.equal(ws.readyState, WebSocket.CLOSED);
        assert.ok(error?.error instanceof HandshakeError, `got ${String(error?.error)}`);
        assert.equal(error.error.code, code);
        assert.equal(error.error.status, status);
        assert.equal(ws.protocol, '');
      } finally {
        await raw.close();
      }
    });
  }

  test('non-101 from a ws server (verifyClient refuses) → error + close 1006', async () => {
    const peer = await startWsServer({ verifyClient: (_info, callback) => callback(false, 401, 'Unauthorized') });
    try {
      const ws = new WebSocket(peer.url);
      const { order, close, error } = await recordUntilClose(ws);
      assert.deepEqual(order, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.ok(error?.error instanceof HandshakeError);
      assert.equal(error.error.status, 401);
    } finally {
      await peer.close();
    }
  });

  test('handshake timeout against a server that never answers', async () => {
    const raw = await startRawServer(() => undefined);
    try {
      // Timers count from the event loop's cached time, taken when the loop last woke: start on a fresh turn so
      // that this clock and the timer's agree.
      await new Promise((resolve) => setImmediate(resolve));
      const started = Date.now();
      const ws = new WebSocket(raw.url, [], { handshakeTimeout: 150 });
      const { order, close, error } = await recordUntilClose(ws);
      assert.ok(Date.now() - started >= 140);
      assert.deepEqual(order, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.ok(error?.error instanceof HandshakeError);
      assert.equal(error.error.code, 'SB_ERR_HANDSHAKE_TIMEOUT');
    } finally {
      await raw.close();
    }
  });

  test('the server closing the connection during the handshake → error + close 1006', async () => {
    const raw = await startRawServer((connection) => connection.socket.end());
    try {
      const { order, close, error } = await recordUntilClose(new WebSocket(raw.url));
      assert.deepEqual(order, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal((error?.error as { code?: string }).code, 'SB_ERR_CONNECTION_LOST');
    } finally {
      await raw.close();
    }
  });

  test('IPv6 literal URLs connect without the brackets and send them in Host', async (t) => {
    let peer: WsPeer;
    try {
      peer = await startWsServer({ host: '::1' });
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    try {
      const hosts: string[] = [];
      peer.wss.on('connection', (_socket, request) => hosts.push(String(request.headers.host)));
      await withClient(`ws://[::1]:${peer.port}/`, async (ws) => {
        ws.send('v6');
        assert.equal(await nextMessage(ws), 'v6');
      });
      assert.deepEqual(hosts, [`[::1]:${peer.port}`]);
    } finally {
      await peer.close();
    }
  });

  test('connection refused → error + close 1006', async () => {
    const raw = await startRawServer(() => undefined);
    const url = raw.url;
    await raw.close();
    const { order, close, error } = await recordUntilClose(new WebSocket(url));
    assert.deepEqual(order, ['error', 'close']);
    assert.equal(close.code, 1006);
    assert.equal((error?.error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  });
});

// ------------------------------------------------------------------ control frames and closing

describe('control frames and closing', () => {
  let peer: WsPeer;
  before(async () => {
    peer = await startWsServer();
  });
  after(() => peer.close());

  test('server pings are answered with the same payload', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    await withClient(peer.url, async () => {
      const [socket] = await serverSide;
      const pong = once(socket, 'pong') as Promise<[Buffer]>;
      socket.ping('are you there');
      const [payload] = await pong;
      assert.equal(payload.toString(), 'are you there');
    });
  });

  test('ping() reaches the server and its pong comes back as a "pong" event', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    await withClient(peer.url, async (ws) => {
      const [socket] = await serverSide;
      const pinged = once(socket, 'ping') as Promise<[Buffer]>;
      const pong = nextEvent<MessageEvent<Buffer>>(ws, 'pong');
      ws.ping('hé');
      assert.equal((await pinged)[0].toString(), 'hé');
      const event = await pong;
      assert.ok(Buffer.isBuffer(event.data));
      assert.equal(event.data.toString(), 'hé');
      const empty = nextEvent<MessageEvent<Buffer>>(ws, 'pong');
      ws.ping(new Uint8Array(0));
      assert.equal((await empty).data.length, 0);
      assert.throws(() => ws.ping('x'.repeat(126)), (error: unknown) => error instanceof LocalProtocolError && error.code === 'SB_ERR_CONTROL_PAYLOAD_TOO_LONG');
    });
  });

  test('ping() throws while connecting and does nothing once closing', async () => {
    const ws = new WebSocket(peer.url);
    throwsDom(() => ws.ping(), 'InvalidStateError');
    await opened(ws);
    const done = closed(ws);
    ws.close();
    ws.ping('late');
    assert.equal((await done).code, 1005);
  });

  test('server close with code and reason', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    const ws = new WebSocket(peer.url);
    const record = recordUntilClose(ws);
    const [socket] = await serverSide;
    await opened(ws);
    const serverClosed = once(socket, 'close') as Promise<[number, Buffer]>;
    socket.close(4002, 'server says b\u00fce');
    const { order, close } = await record;
    assert.deepEqual(order, ['open', 'close']);
    assert.equal(close.code, 4002);
    assert.equal(close.reason, 'server says b\u00fce');
    assert.equal(close.wasClean, true);
    const [echoed] = await serverClosed;
    assert.equal(echoed, 4002, 'the client echoes the close code');
  });

  test('server close without a code → 1005', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    const ws = new WebSocket(peer.url);
    const done = closed(ws);
    const [socket] = await serverSide;
    await opened(ws);
    socket.close();
    const event = await done;
    assert.equal(event.code, 1005);
    assert.equal(event.reason, '');
    assert.equal(event.wasClean, true);
  });

  test('client close with code and reason', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    const ws = new WebSocket(peer.url);
    const [socket] = await serverSide;
    const serverClosed = once(socket, 'close') as Promise<[number, Buffer]>;
    await opened(ws);
    const done = closed(ws);
    ws.close(4001, 'client says bye \u{1F44B}');
    const [code, reason] = await serverClosed;
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'client says bye \u{1F44B}');
    const event = await done;
    assert.equal(event.code, 4001);
    assert.equal(event.wasClean, true);
  });

  test('server drops the connection: error then close 1006, not clean', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    const ws = new WebSocket(peer.url);
    const record = recordUntilClose(ws);
    const [socket] = await serverSide;
    await opened(ws);
    socket.terminate();
    const { order, close } = await record;
    assert.deepEqual(order, ['open', 'error', 'close']);
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
  });

  test('a protocol violation by the server fails the connection with 1002', async () => {
    let clientCloseCode = -1;
    const raw = await startRawServer((connection) => {
      connection.socket.write(switchingProtocols(connection.key));
      onClientFrames(connection, (frame) => {
        if (frame.opcode === 0x8) clientCloseCode = frame.payload.readUInt16BE(0);
      });
      connection.socket.write(Buffer.from([0x83, 0x00])); // reserved opcode 3
    });
    try {
      const { order, close, error } = await recordUntilClose(new WebSocket(raw.url));
      assert.deepEqual(order, ['open', 'error', 'close']);
      assert.equal(close.code, 1006);
      assert.ok(error?.error instanceof RemoteProtocolError);
      assert.equal(error.error.code, 'SB_ERR_INVALID_OPCODE');
      assert.equal(clientCloseCode, 1002);
    } finally {
      await raw.close();
    }
  });

  test('a message over maxMessageSize fails the connection with 1009', async () => {
    const serverSide = once(peer.wss, 'connection') as Promise<[WsSocket]>;
    const ws = new WebSocket(peer.url, [], { maxMessageSize: 1000 });
    const record = recordUntilClose(ws);
    const [socket] = await serverSide;
    const serverClosed = once(socket, 'close') as Promise<[number, Buffer]>;
    await opened(ws);
    socket.send(Buffer.alloc(1001));
    const { order, close, error } = await record;
    assert.deepEqual(order, ['open', 'error', 'close']);
    assert.equal(close.code, 1006);
    assert.ok(error?.error instanceof RemoteProtocolError);
    assert.equal(error.error.closeCode, 1009);
    assert.equal((await serverClosed)[0], 1009);
  });

  test('going over maxBufferedAmount fails the connection (the standard\'s "buffer full")', async () => {
    const ws = new WebSocket(peer.url, [], { maxBufferedAmount: 1000 });
    await opened(ws);
    const record = recordUntilClose(ws);
    ws.send(new Uint8Array(600));
    ws.send(new Uint8Array(600));
    const { order, close, error } = await record;
    assert.deepEqual(order, ['error', 'close']);
    assert.equal(close.code, 1006);
    assert.equal((error?.error as { code?: string }).code, 'SB_ERR_SLOW_CONSUMER');
  });

  test('closeTimeout ends a closing handshake the server never finishes', async () => {
    const raw = await startRawServer((connection) => connection.socket.write(switchingProtocols(connection.key)));
    try {
      const ws = new WebSocket(raw.url, [], { closeTimeout: 100 });
      await opened(ws);
      const record = recordUntilClose(ws);
      ws.close(1000);
      const { order, close } = await record;
      assert.deepEqual(order, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
    } finally {
      await raw.close();
    }
  });
});

// ------------------------------------------------------------------ TLS

describe('wss://', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;
  let server: https.Server;
  let wss: WebSocketServer;
  let port: number;
  const servernames: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-client-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
    server = https.createServer({ key, cert });
    server.on('secureConnection', (socket) => servernames.push(String(socket.servername)));
    wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('echo over TLS with the tls.ca option, SNI set to the host name', async () => {
    await withClient(
      `wss://localhost:${port}/secure`,
      async (ws) => {
        ws.send('over tls');
        assert.equal(await nextMessage(ws), 'over tls');
        ws.binaryType = 'nodebuffer';
        ws.send(Buffer.from([0, 1, 2, 255]));
        assert.deepEqual(await nextMessage(ws), Buffer.from([0, 1, 2, 255]));
      },
      [],
      { tls: { ca: cert } },
    );
    assert.equal(servernames.at(-1), 'localhost');
  });

  test('https:// URLs become wss://', async () => {
    await withClient(`https://127.0.0.1:${port}/`, async (ws) => assert.equal(ws.url, `wss://127.0.0.1:${port}/`), [], { tls: { ca: cert } });
  });

  test('an untrusted certificate → error + close 1006', async () => {
    const ws = new WebSocket(`wss://localhost:${port}/`);
    const { order, close, error } = await recordUntilClose(ws);
    assert.deepEqual(order, ['error', 'close']);
    assert.equal(close.code, 1006);
    assert.match(String((error?.error as NodeJS.ErrnoException).code), /SELF_SIGNED|UNABLE_TO_VERIFY/);
  });
});
