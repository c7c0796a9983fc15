/**
 * Limits and liveness end to end: protocol heartbeats (ping/pong, timeout
 * 4003), the rate limit (rate_limited, then 4005), the message size (1009),
 * slow consumers on a raw socket that stops reading (4002, or dropped
 * publications with a gap), and shutdown (4006).
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { describe, test } from 'node:test';
import type { RealtimeServer } from '../../../src/realtime/server/index.js';
import { RawClient, textFrame } from './raw-client.js';
import { isPush, sleep, startServer, WireClient, type TestServerOptions } from './wire-client.js';

async function withServer(options: TestServerOptions, run: (url: string, server: RealtimeServer) => Promise<void>): Promise<void> {
  const { server, url } = await startServer(options);
  try {
    await run(url, server);
  } finally {
    await server.close();
  }
}

/** `promise`, or a rejection naming `what` after `ms` (a generous bound: the failure of a guard that never acts). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Publishes large publications, yielding between them, until `stop()` or `max`. */
async function flood(server: RealtimeServer, channel: string, stop: () => boolean, max: number): Promise<number> {
  const data = 'x'.repeat(32 * 1024);
  let count = 0;
  while (!stop() && count < max) {
    await server.publish(channel, { n: ++count, data });
    await new Promise((resolve) => setImmediate(resolve));
  }
  return count;
}

describe('heartbeat', () => {
  test('pings every `ping` ms; a client that answers stays', async () => {
    // The pong budget is generous: a loaded machine can stall the process for hundreds of ms between the ping
    // going out and the client's pong being read, and the server then rightly closes 4003. Instead of sleeping,
    // the test waits for enough pings that round 1's check has passed, whatever the timers' lateness: that check
    // is due `pong` ms after ping 1, ping k at least (k - 1) × `ping` ms after it, and due timers fire in order.
    const ping = 200;
    const pong = 1000;
    const pings = Math.floor(pong / ping) + 2;
    await withServer({ ping, pong }, async (url) => {
      const { client } = await WireClient.connect(url);
      await client.pushesOf(isPush('ping'), pings, 30_000);
      assert.equal(client.ws.readyState, 1);
      await client.close();
    });
  });

  test('no pong within `pong` ms → disconnect and close 4003', async () => {
    await withServer({ ping: 80, pong: 60 }, async (url, server) => {
      const { client } = await WireClient.connect(url, {}, { autoPong: false });
      const disconnected = new Promise<number>((resolve) => server.once('disconnect', (_session, code) => resolve(code)));
      const closed = await client.closed;
      assert.equal(closed.code, 4003);
      // Within `pong` ms of the first unanswered ping, on the server's own clock: its check is due
      // 60 ms after the ping, the next ping 80 ms after it, so the close comes before a second ping
      // (a wall-clock bound would also count the time a loaded machine keeps the process waiting).
      assert.equal(client.pushes.filter(isPush('ping')).length, 1, 'closed before the next ping');
      assert.deepEqual(client.pushes.at(-1), { type: 'disconnect', code: 4003, reason: 'heartbeat timeout', reconnect: true });
      assert.equal(await disconnected, 4003);
    });
  });

  test('a client whose pings wait behind its queued bytes gets one more round, and stays by answering in it', async () => {
    // `pong` 500 ms, `ping` 2 s. The client's downlink is paced at 4 KiB/s and kept about 4 KB (1 s) full, so
    // each ping reaches it about 1 s after it is sent: past `pong`, within `ping + pong`. Without the grace the
    // server closes it 4003 at the first check.
    await withServer({ ping: 2000, pong: 500 }, async (url, server) => {
      server.method('slow', (_params, session) => session.paceDownlink(4096));
      let closedWith: number | null = null;
      server.on('disconnect', (_session, code) => (closedWith = code));
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'feed' });
      await client.request('call', { method: 'slow', data: null });
      const data = 'x'.repeat(900);
      for (let n = 0; n < 4; n++) await server.publish('feed', { n, data });
      let feeding = true;
      const feed = (async () => {
        for (let n = 4; feeding; n++) {
          await server.publish('feed', { n, data });
          await sleep(250);
        }
      })();
      try {
        await client.pushesOf(isPush('ping'), 3, 30_000);
      } finally {
        feeding = false;
        await feed;
      }
      assert.equal(closedWith, null, `closed ${closedWith}`);
      assert.equal(client.ws.readyState, 1);
      await client.close();
    });
  });
});

describe('rate and size limits', () => {
  test('over the rate: rate_limited replies, then close 4005 after disconnectAfter rejections in a row', async () => {
    await withServer({ limits: { rate: { perSecond: 1, burst: 3, disconnectAfter: 4 } } }, async (url) => {
      const { client } = await WireClient.connect(url);
      for (let i = 0; i < 8; i++) void client.command('subscribe', { channel: `c${i}` });
      const closed = await client.closed;
      assert.equal(closed.code, 4005);
      const replies = client.received.filter((message) => message.type === 'reply') as Array<{ id: number; error?: { code: string } }>;
      // connect = 1, c0 = 2, c1 = 3 take the burst; 4, 5, 6 are refused; the 4th refusal (7) closes.
      const limited = replies.filter((reply) => reply.error?.code === 'rate_limited').map((reply) => reply.id);
      assert.deepEqual(limited, [4, 5, 6]);
      assert.ok(replies.every((reply) => reply.id < 7));
      assert.deepEqual(client.pushes.at(-1), { type: 'disconnect', code: 4005, reason: 'rate limited', reconnect: true });
    });
  });

  test('a message over maxMessageSize → close 1009', async () => {
    await withServer({ maxMessageSize: 1024 }, async (url) => {
      const { client } = await WireClient.connect(url);
      client.send({ type: 'send', data: 'x'.repeat(2000) });
      assert.equal((await client.closed).code, 1009);
    });
  });

  test('pong and reply take a token like every other message: a flood of them closes 4005', async () => {
    for (const type of ['pong', 'reply'] as const) {
      await withServer({ limits: { rate: { perSecond: 1, burst: 3, disconnectAfter: 4 }, receiveBytes: false } }, async (url, server) => {
        const { client } = await WireClient.connect(url);
        const disconnected = new Promise<number>((resolve) => server.once('disconnect', (_session, code) => resolve(code)));
        for (let i = 0; i < 40; i++) client.send(type === 'pong' ? { type } : { type, id: 1000 + i, result: null });
        assert.equal((await within(client.closed, 10_000, `the close after a ${type} flood`)).code, 4005);
        assert.equal(await disconnected, 4005);
      });
    }
  });

  test('the byte budget: large messages over limits.receiveBytes close 4005, before they are decoded', async () => {
    await withServer({ limits: { rate: false, receiveBytes: { perSecond: 1000, burst: 100_000 } } }, async (url) => {
      const { client } = await WireClient.connect(url);
      const pad = 'p'.repeat(30_000);
      for (let i = 0; i < 10; i++) client.send({ type: 'pong', pad });
      const closed = await within(client.closed, 10_000, 'the close after 300 KB');
      assert.equal(closed.code, 4005);
      assert.deepEqual(client.pushes.at(-1), { type: 'disconnect', code: 4005, reason: 'too many bytes', reconnect: true });
    });
  });

  test('a client that keeps sending after its 4005 is not parsed and not read past a few KiB; the socket goes within closeTimeout', async () => {
    const options: TestServerOptions = { limits: { rate: false, receiveBytes: { perSecond: 1000, burst: 100_000 } }, websocket: { closeTimeout: 1000 } };
    await withServer(options, async (_url, server) => {
      let serverSocket: net.Socket | undefined;
      let readAt4005 = -1;
      let at4005 = 0;
      let parsedAfter4005 = 0;
      const socketClosed = new Promise<number>((resolve) => {
        server.wss.on('connection', (ws, request) => {
          serverSocket = request.socket as net.Socket;
          // Before the session's listener: the message that brings the 4005 is not counted.
          ws.prependListener('message', () => {
            if (readAt4005 >= 0) parsedAfter4005++;
          });
          ws.on('close', () => resolve(Date.now()));
        });
      });
      const disconnected = new Promise<number>((resolve) =>
        server.once('disconnect', (_session, code) => {
          readAt4005 = serverSocket!.bytesRead;
          at4005 = Date.now();
          resolve(code);
        }),
      );
      const raw = await RawClient.open(server.port, { halfOpen: true });
      raw.socket.on('error', () => {});
      raw.sendText({ type: 'connect', id: 1 });
      await raw.until(() => raw.messages().some((message) => message.id === 1));
      const frame = textFrame({ type: 'pong', pad: 'p'.repeat(30_000) });
      // 16 MiB of 30 KB pongs, written at once: the fourth is over the 100 KB burst.
      for (let i = 0; i < 560; i++) raw.socket.write(frame);
      assert.equal(await within(disconnected, 10_000, 'the 4005'), 4005);
      const closedAt = await within(socketClosed, 10_000, 'the close of the server socket');
      const readAfter = serverSocket!.bytesRead - readAt4005;
      assert.ok(readAfter < 512 * 1024, `${readAfter} bytes read after the 4005`);
      assert.equal(parsedAfter4005, 0, 'messages parsed after the 4005');
      assert.ok(closedAt - at4005 < 3000, `the socket closed ${closedAt - at4005} ms after the 4005`);
      await raw.until(() => raw.closeFrame() !== undefined);
      assert.deepEqual(raw.closeFrame(), { code: 4005, reason: 'too many bytes' });
      assert.deepEqual(raw.messages().at(-1), { type: 'disconnect', code: 4005, reason: 'too many bytes', reconnect: true });
      raw.socket.destroy();
    });
  });

  test('with the default limits, a flood of 60 KB pongs is closed with 4005 long before it ends', async () => {
    await withServer({}, async (url, server) => {
      const { client } = await WireClient.connect(url);
      const pad = 'p'.repeat(60_000);
      let sent = 0;
      const closed = client.closed.then((close) => ({ ...close, sent }));
      // 4,000 × 60 KB, written as fast as the socket takes them, stops when the server closes.
      while (sent < 4000 && client.ws.readyState === 1) {
        client.send({ type: 'pong', pad });
        sent++;
        if (client.ws.bufferedAmount > 4 * 1024 * 1024) await sleep(5);
      }
      const result = await within(closed, 30_000, 'the close of the pong flood');
      assert.equal(result.code, 4005);
      assert.ok(result.sent < 4000, `closed after ${result.sent} of 4000 pongs`);
      assert.equal(server.sessions.size, 0);
    });
  });
});

describe('slow consumers', () => {
  test("a client that stops reading is disconnected with 4002 ('disconnect' policy)", async () => {
    await withServer({ limits: { maxQueuedBytes: 256 * 1024 } }, async (_url, server) => {
      const raw = await RawClient.open(server.port);
      raw.sendText({ type: 'connect', id: 1 });
      raw.sendText({ type: 'subscribe', id: 2, channel: 'firehose' });
      await raw.until(() => raw.messages().some((message) => message.id === 2));
      raw.socket.pause();
      let code = 0;
      server.once('disconnect', (_session, closeCode) => (code = closeCode));
      const published = await flood(server, 'firehose', () => code !== 0, 3000);
      assert.equal(code, 4002, `no disconnect after ${published} publications`);
      raw.socket.resume();
      await raw.until(() => raw.closeFrame() !== undefined);
      assert.deepEqual(raw.closeFrame(), { code: 4002, reason: 'slow consumer' });
      const offsets = raw.messages().filter((message) => message.type === 'publication').map((message) => message.offset as number);
      assert.deepEqual(offsets, Array.from({ length: offsets.length }, (_, i) => i + 1));
      raw.socket.destroy();
    });
  });

  test("'drop' policy: publications are dropped, the client sees the gap and stays connected", async () => {
    await withServer({ limits: { maxQueuedBytes: 128 * 1024, slowConsumer: 'drop' } }, async (_url, server) => {
      const raw = await RawClient.open(server.port);
      raw.sendText({ type: 'connect', id: 1 });
      raw.sendText({ type: 'subscribe', id: 2, channel: 'firehose' });
      await raw.until(() => raw.messages().some((message) => message.id === 2));
      raw.socket.pause();
      let disconnected = false;
      server.once('disconnect', () => (disconnected = true));
      const published = await flood(server, 'firehose', () => false, 600);
      raw.socket.resume();
      await server.publish('firehose', { n: 'last' });
      await raw.until(() => raw.messages().some((message) => message.type === 'publication' && message.offset === published + 1));
      const offsets = raw.messages().filter((message) => message.type === 'publication').map((message) => message.offset as number);
      assert.ok(offsets.length < published + 1, 'nothing was dropped');
      assert.ok(offsets.every((offset, i) => i === 0 || offset > offsets[i - 1]!), 'offsets out of order');
      raw.sendText({ type: 'presence', id: 3, channel: 'firehose' });
      await raw.until(() => raw.messages().some((message) => message.id === 3));
      assert.equal(disconnected, false);
      raw.socket.destroy();
    });
  });
});

describe('shutdown', () => {
  test('close(): every client gets disconnect 4006 (reconnect) and the close; the server stops', async () => {
    const { server, url } = await startServer({});
    const { client: a } = await WireClient.connect(url);
    const { client: b } = await WireClient.connect(url);
    await a.request('subscribe', { channel: 'x' });
    const waiting = await WireClient.open(url);
    const closing = server.close();
    assert.equal(server.close(), closing);
    await closing;
    for (const client of [a, b, waiting]) {
      assert.deepEqual(await client.closed, { code: 4006, reason: 'server shutdown' });
      assert.deepEqual(client.pushes.at(-1), { type: 'disconnect', code: 4006, reason: 'server shutdown', reconnect: true });
    }
    assert.equal(server.sessions.size, 0);
    await assert.rejects(WireClient.open(url));
    await assert.rejects(server.publish('x', 1));
  });
});
