// Attacks after the 101, through real sockets: absurd frame lengths, garbage,
// ping floods, slow drips, decompression bombs. In each case the attacker's
// connection ends with a documented close code and a well-behaved client
// keeps being served (an echo round trip during the attack).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Opcode } from '../../src/protocol/frame.js';
import { bindingOf } from '../../src/node/server-connection.js';
import {
  ConnectionError,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_PINGS_PER_SECOND,
  DEFAULT_PING_FLOOD_TIMEOUT,
  RemoteProtocolError,
  type ServerWebSocket,
  type WebSocketServer,
} from '../../src/node/server-index.js';
import { clientFrame, type RawPeer } from '../node/server-helpers.js';
import { closeCodeFrom, deflateBomb, echoRoundTrip, rawUpgrade, rssMiB, sleep, startEcho } from './helpers.js';

const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44]);

/** The next connection of a server, with its first error and its close event. */
async function attach(wss: WebSocketServer, headers: Record<string, string> = {}): Promise<{
  peer: RawPeer;
  ws: ServerWebSocket;
  error: Promise<Error>;
  closed: Promise<number>;
}> {
  const connected = once(wss, 'connection');
  const peer = await rawUpgrade({ port: wss.port, host: '127.0.0.1' }, headers);
  const [ws] = (await connected) as [ServerWebSocket];
  const error = new Promise<Error>((resolve) => ws.once('error', resolve));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return { peer, ws, error, closed };
}

/** A masked frame header declaring `length` bytes (64-bit form), with a mask key and no payload. */
function header64(opcode: number, high: number, low: number): Buffer {
  const bytes = Buffer.alloc(14);
  bytes[0] = 0x80 | opcode;
  bytes[1] = 0x80 | 127;
  bytes.writeUInt32BE(high, 2);
  bytes.writeUInt32BE(low, 6);
  MASK.copy(bytes, 10);
  return bytes;
}

const urlOf = (wss: WebSocketServer): string => `ws://127.0.0.1:${wss.port}/`;

describe('frame lengths', () => {
  test('a frame declaring 2^63-1 bytes closes with 1009 at once, before anything is buffered', async (t) => {
    const wss = await startEcho(t);
    const { peer, ws, error, closed } = await attach(wss);
    t.after(() => peer.destroy());
    const before = rssMiB();
    const started = performance.now();
    peer.send(header64(Opcode.BINARY, 0x7fffffff, 0xffffffff));
    peer.send(Buffer.alloc(64 * 1024, 7)); // payload that follows is discarded
    const { code } = await closeCodeFrom(peer);
    const elapsed = performance.now() - started;
    assert.equal(code, 1009);
    assert.equal(((await error) as RemoteProtocolError).code, 'SB_ERR_FRAME_TOO_LARGE');
    assert.equal(bindingOf(ws).connection.bufferedInput, 0);
    assert.equal(await closed, 1009);
    await echoRoundTrip(urlOf(wss));
    const grown = rssMiB() - before;
    assert.ok(elapsed < 500, `closed after ${elapsed.toFixed(1)} ms`);
    assert.ok(grown < 16, `RSS grew by ${grown.toFixed(1)} MiB`);
    console.log(JSON.stringify({ length2pow63minus1: { closeCode: code, ms: +elapsed.toFixed(1), rssGrowthMiB: +grown.toFixed(1) } }));
  });

  test('a frame declaring 2^63 bytes (most significant bit set) is a protocol error: 1002', async (t) => {
    const wss = await startEcho(t);
    const { peer, error } = await attach(wss);
    t.after(() => peer.destroy());
    peer.send(header64(Opcode.BINARY, 0x80000000, 0));
    assert.equal((await closeCodeFrom(peer)).code, 1002);
    assert.equal(((await error) as RemoteProtocolError).code, 'SB_ERR_INVALID_LENGTH');
    await echoRoundTrip(urlOf(wss));
  });
});

describe('garbage after the handshake', () => {
  test('an HTTP request instead of frames closes with 1002; so does an unmasked frame', async (t) => {
    const wss = await startEcho(t);
    const first = await attach(wss);
    t.after(() => first.peer.destroy());
    first.peer.send(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    assert.equal((await closeCodeFrom(first.peer)).code, 1002);
    assert.equal(await first.closed, 1002);
    await echoRoundTrip(urlOf(wss));
    const second = await attach(wss);
    t.after(() => second.peer.destroy());
    second.peer.send(clientFrame(Opcode.TEXT, 'not masked', false));
    assert.equal((await closeCodeFrom(second.peer)).code, 1002);
    await second.peer.closed;
  });

  test('random bytes end in a documented close code (1002, 1007 or 1009) and the socket closes', async (t) => {
    const wss = await startEcho(t);
    let seed = 0x5eed;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 20; round++) {
      const { peer } = await attach(wss);
      t.after(() => peer.destroy());
      peer.send(Buffer.from(Array.from({ length: 4096 }, random)));
      // Random bytes may also form a valid frame or a close frame first; read until the close.
      const { code } = await closeCodeFrom(peer);
      assert.ok([1000, 1002, 1007, 1009].includes(code) || (code >= 3000 && code <= 4999), `round ${round}: close ${code}`);
      await peer.closed;
    }
    await echoRoundTrip(urlOf(wss));
  });
});

describe('ping floods', () => {
  test(`a burst of pings gets at most maxPingsPerSecond (default ${DEFAULT_MAX_PINGS_PER_SECOND}) pongs per second`, async (t) => {
    const wss = await startEcho(t);
    const { peer, ws } = await attach(wss);
    t.after(() => peer.destroy());
    const pings = Buffer.concat(Array.from({ length: 500 }, (_, i) => clientFrame(Opcode.PING, `p${i}`)));
    peer.send(pings);
    peer.send(clientFrame(Opcode.TEXT, 'marker'));
    const pongs: string[] = [];
    for (;;) {
      const frame = await peer.frame();
      if (frame.opcode === Opcode.TEXT) break;
      pongs.push(frame.payload.toString());
    }
    assert.deepEqual(pongs, Array.from({ length: DEFAULT_MAX_PINGS_PER_SECOND }, (_, i) => `p${i}`));
    assert.equal(ws.readyState, ws.OPEN);
    await sleep(1050);
    peer.send(clientFrame(Opcode.PING, 'later'));
    const later = await peer.frame();
    assert.equal(later.opcode, Opcode.PONG);
    assert.equal(later.payload.toString(), 'later');
  });

  test(`a sustained flood closes with 1008 (after pingFloodTimeout, default ${DEFAULT_PING_FLOOD_TIMEOUT} ms); others are unaffected`, async (t) => {
    const wss = await startEcho(t, { maxPingsPerSecond: 10, pingFloodTimeout: 1500 });
    const { peer, error, closed } = await attach(wss);
    t.after(() => peer.destroy());
    const burst = Buffer.concat(Array.from({ length: 50 }, () => clientFrame(Opcode.PING, 'flood')));
    const started = performance.now();
    const flood = setInterval(() => peer.socket.writable && peer.send(burst), 10);
    t.after(() => clearInterval(flood));
    const echoes: number[] = [];
    const echoing = (async () => {
      while (performance.now() - started < 1200) {
        echoes.push(await echoRoundTrip(urlOf(wss)));
        await sleep(100);
      }
    })();
    const { code, reason, before } = await closeCodeFrom(peer);
    const elapsed = performance.now() - started;
    clearInterval(flood);
    await echoing;
    assert.equal(code, 1008);
    assert.equal(reason, 'ping flood');
    const [flooded] = [(await error) as ConnectionError];
    assert.equal(flooded.code, 'SB_ERR_PING_FLOOD');
    assert.equal(await closed, 1008);
    assert.ok(elapsed >= 1400 && elapsed < 5000, `closed after ${elapsed.toFixed(0)} ms`);
    // At most 10 pongs in each of the (at most 3) one-second windows.
    assert.ok(before.length <= 30, `${before.length} pongs`);
    // Each a new connection and a round trip, then 100 ms of sleep, for 1.2 s: 10-12 on a quiet machine.
    assert.ok(echoes.length >= 3, `${echoes.length} echoes`);
    console.log(JSON.stringify({ pingFlood: { closedAfterMs: Math.round(elapsed), pongs: before.length, echoes: echoes.length, maxEchoMs: Math.round(Math.max(...echoes)) } }));
  });

  test('pongs count against maxBufferedAmount: a peer that pings and never reads is closed as a slow consumer', async (t) => {
    const wss = await startEcho(t, { maxPingsPerSecond: 0, maxBufferedAmount: 16 * 1024 });
    const { peer, error } = await attach(wss);
    t.after(() => peer.destroy());
    peer.socket.pause();
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => clientFrame(Opcode.PING, Buffer.alloc(125, 1))));
    let sent = 0;
    const failed = error.then((caught) => caught as ConnectionError);
    while (sent < 200 && !peer.socket.destroyed) {
      const settled = await Promise.race([failed, sleep(0).then(() => null)]);
      if (settled !== null) break;
      if (!peer.socket.write(burst)) await Promise.race([once(peer.socket, 'drain'), failed]);
      sent++;
    }
    const caught = await failed;
    assert.equal(caught.code, 'SB_ERR_SLOW_CONSUMER');
    await echoRoundTrip(urlOf(wss));
  });
});

describe('slow drip and idle connections', () => {
  test(`a frame dripped one byte at a time is closed with 1001 after idleTimeout (default ${DEFAULT_IDLE_TIMEOUT} ms), though the heartbeat sees bytes`, async (t) => {
    // A byte every 20 ms against a heartbeat of 250 ms: the heartbeat always has bytes to see, even when a loaded
    // machine delays a few drips. The frame would take 3 s to complete; the idle timeout is 1 s.
    const wss = await startEcho(t, { idleTimeout: 1000, heartbeatInterval: 250, closeTimeout: 200 });
    const started = performance.now(); // before the upgrade, from which the idle clock runs
    const { peer, error, closed } = await attach(wss);
    t.after(() => peer.destroy());
    const frame = clientFrame(Opcode.BINARY, Buffer.alloc(150, 1));
    let index = 0;
    const drip = setInterval(() => peer.socket.writable && index < frame.length && peer.send(frame.subarray(index, ++index)), 20);
    t.after(() => clearInterval(drip));
    const { code, reason } = await closeCodeFrom(peer);
    const elapsed = performance.now() - started;
    clearInterval(drip);
    assert.equal(code, 1001);
    assert.equal(reason, 'idle timeout');
    assert.equal(((await error) as ConnectionError).code, 'SB_ERR_IDLE_TIMEOUT');
    assert.equal(await closed, 1001);
    // Between ⅞ and 1× idleTimeout after the last complete frame (the upgrade), plus timer slack.
    assert.ok(elapsed >= 860 && elapsed < 3000, `closed after ${elapsed.toFixed(0)} ms`);
    assert.ok(index < frame.length);
    await echoRoundTrip(urlOf(wss));
  });

  test('with the heartbeat off a silent peer is closed with 1001; one that sends keeps its connection', async (t) => {
    const wss = await startEcho(t, { idleTimeout: 300, heartbeatInterval: 0 });
    const silent = await attach(wss);
    const chatty = await attach(wss);
    t.after(() => silent.peer.destroy());
    t.after(() => chatty.peer.destroy());
    const talk = setInterval(() => chatty.peer.send(clientFrame(Opcode.PING, '')), 50);
    t.after(() => clearInterval(talk));
    const { code } = await closeCodeFrom(silent.peer);
    assert.equal(code, 1001);
    silent.peer.send(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe9])));
    assert.equal(await silent.closed, 1001);
    await sleep(200);
    clearInterval(talk);
    assert.equal(chatty.ws.readyState, chatty.ws.OPEN);
  });
});

describe('decompression', () => {
  test('maxMessageSize bounds the inflated size: exactly the limit passes, one byte more closes with 1009', async (t) => {
    const { deflateRawSync } = await import('node:zlib');
    const limit = 64 * 1024;
    const wss = await startEcho(t, { perMessageDeflate: true, maxMessageSize: limit });
    const headers = { 'Sec-WebSocket-Extensions': 'permessage-deflate' };
    const compressed = (size: number): Buffer => {
      const data = deflateRawSync(Buffer.alloc(size, 'a'), { finishFlush: 2 });
      const frame = clientFrame(Opcode.BINARY, data.subarray(0, data.length - 4));
      frame[0] = frame[0]! | 0x40;
      return frame;
    };
    const ok = await attach(wss, headers);
    t.after(() => ok.peer.destroy());
    const received = once(ok.ws, 'message');
    ok.peer.send(compressed(limit));
    assert.equal(((await received) as [Buffer])[0].length, limit);
    const over = await attach(wss, headers);
    t.after(() => over.peer.destroy());
    over.peer.send(compressed(limit + 1));
    assert.equal((await closeCodeFrom(over.peer)).code, 1009);
    assert.equal(((await over.error) as RemoteProtocolError).code, 'SB_ERR_MESSAGE_TOO_LARGE');
  });

  test("a client's corrupt compressed message does not fail another client's valid one", async (t) => {
    const { deflateRawSync, constants } = await import('node:zlib');
    const wss = await startEcho(t, { perMessageDeflate: true });
    const headers = { 'Sec-WebSocket-Extensions': 'permessage-deflate' };
    const compressedFrame = (payload: Buffer): Buffer => {
      const frame = clientFrame(Opcode.BINARY, payload);
      frame[0] = frame[0]! | 0x40;
      return frame;
    };
    const valid = deflateRawSync(Buffer.from('a valid message'), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
    for (let round = 0; round < 5; round++) {
      const attacker = await attach(wss, headers);
      t.after(() => attacker.peer.destroy());
      attacker.peer.send(compressedFrame(Buffer.from([0xff, 0xff, 0xff, 0x01])));
      assert.equal((await closeCodeFrom(attacker.peer)).code, 1007);
      const victim = await attach(wss, headers);
      t.after(() => victim.peer.destroy());
      const received = once(victim.ws, 'message');
      victim.peer.send(compressedFrame(valid));
      assert.equal(((await received) as [Buffer])[0].toString(), 'a valid message', `round ${round}`);
    }
  });

  test('a 256 MiB bomb in ~256 KiB closes with 1009; memory stays bounded; others are served', async (t) => {
    const bomb = await deflateBomb(256 * 1024 * 1024);
    const frame = clientFrame(Opcode.BINARY, bomb);
    frame[0] = frame[0]! | 0x40;
    const wss = await startEcho(t, { perMessageDeflate: true });
    const { peer, error } = await attach(wss, { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    t.after(() => peer.destroy());
    const before = rssMiB();
    const peakBefore = process.resourceUsage().maxRSS / 1024;
    const started = performance.now();
    peer.send(frame);
    const echo = echoRoundTrip(urlOf(wss));
    const { code } = await closeCodeFrom(peer);
    const elapsed = performance.now() - started;
    await echo;
    assert.equal(code, 1009);
    assert.equal(((await error) as RemoteProtocolError).code, 'SB_ERR_MESSAGE_TOO_LARGE');
    const grown = rssMiB() - before;
    const peakGrown = process.resourceUsage().maxRSS / 1024 - peakBefore;
    // The default 1 MiB limit plus one 64 KiB output chunk, zlib's window and the compressed frame itself.
    assert.ok(grown < 24, `RSS grew by ${grown.toFixed(1)} MiB`);
    assert.ok(peakGrown < 24, `peak RSS grew by ${peakGrown.toFixed(1)} MiB`);
    console.log(JSON.stringify({ deflateBomb: { inflatedMiB: 256, compressedKiB: Math.round(bomb.length / 1024), closeCode: code, ms: Math.round(elapsed), rssGrowthMiB: +grown.toFixed(1), peakRssGrowthMiB: +peakGrown.toFixed(1) } }));
  });
});
