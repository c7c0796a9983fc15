// The server's HTTP fallback transport spoken by hand (docs/protocol.md §11):
// the open request and its event stream, numbered events, ordered and
// deduplicated uplink batches, resuming a stream with Last-Event-ID, the
// limits as on WebSocket (message size, rate, connect timeout, heartbeat,
// slow consumer, downlink timeout), authentication, CORS and origins, bad
// requests, mounting (standalone, attached, noServer, off) and shutdown.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRealtimeServer, type RealtimeServer, type RealtimeServerOptions } from '../../../src/realtime/server/index.js';
import type { ServerMessage } from '../../../src/realtime/wire/messages.js';
import { epochSeconds, signJwt, WireClient } from '../server/wire-client.js';
import { RawSession, request } from './http-client.js';

const SECRET = 'fallback-secret-of-a-decent-length-0123456789';

type Options = Omit<RealtimeServerOptions, 'port' | 'server' | 'noServer'>;

/** Runs `test` against a standalone server on /rt; `base` is its fallback endpoint. */
async function withServer(options: Options, test: (base: string, server: RealtimeServer) => Promise<void>): Promise<void> {
  const server = createRealtimeServer({ port: 0, host: '127.0.0.1', path: '/rt', namespaces: { chat: { history: { size: 100 }, publish: 'clients' } }, ...options });
  await server.ready();
  try {
    await test(`http://127.0.0.1:${server.port}/rt/http`, server);
  } finally {
    await server.close();
  }
}

const isType = (type: string) => (message: ServerMessage) => message.type === type;

/** The header of a request that opens a session, for a client of the fallback's version 2. */
const V2 = { 'x-switchboard-fallback': '2' };

describe('HTTP fallback: sessions and messages', () => {
  it('opens a session with the first messages; the response is its event stream of numbered events', async () => {
    await withServer({}, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:a' }]);
      assert.match(session.id, /^[A-Za-z0-9_-]{22}$/);
      assert.match(session.openHeaders.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(session.openHeaders.get('x-switchboard-downlink-timeout'), '10000');
      assert.match(session.openHeaders.get('cache-control') ?? '', /no-store/);
      const connected = await session.reply(1);
      assert.ok('result' in connected);
      const client = (connected.result as { client: string }).client;
      await session.reply(2);
      assert.deepEqual(session.events.map((event) => event.id), [1, 2]);
      assert.equal(server.sessions.get(client)?.transport, 'http');
      assert.equal(server.sessions.get(client)?.protocol, 'switchboard.v1.json');
      assert.equal(await session.send([{ type: 'publish', id: 3, channel: 'chat:a', data: { text: 'hi' } }]), 204);
      const publication = await session.message(isType('publication'));
      const epoch = (publication as { epoch?: unknown }).epoch;
      assert.equal(typeof epoch, 'string', 'the first publication of a stream names its epoch');
      assert.deepEqual(publication, { type: 'publication', channel: 'chat:a', offset: 1, epoch, data: { text: 'hi' }, info: { client, user: '' } });
      assert.equal(await session.end(), 204);
      await sleep(50);
      assert.equal(server.sessions.size, 0, 'DELETE ended the session');
    });
  });

  it('refuses a client of another fallback version (version 1 sends none) with 400, opening no session and taking no place in the address budget', async () => {
    await withServer({ websocket: { maxConnectionsPerIp: 1, connectionLimitExempt: () => false } }, async (base, server) => {
      const connect = [{ type: 'connect', id: 1 }];
      const versions: Record<string, string>[] = [{}, { 'x-switchboard-fallback': '1' }, { 'x-switchboard-fallback': '3' }];
      for (const headers of versions) {
        const refused = await request(base, { method: 'POST', headers, body: connect });
        assert.equal(refused.status, 400, JSON.stringify(headers));
        assert.match(refused.text, /speaks version 2 of the HTTP fallback \(X-Switchboard-Fallback: 2\), whose events carry no id: update the client/);
      }
      // Answered before the body is read (here, a body announced and never sent), and the connection is closed.
      const socket = net.connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      let answered = '';
      socket.on('data', (chunk: Buffer) => (answered += chunk.toString('latin1')));
      socket.write(`POST /rt/http HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[`);
      await Promise.race([once(socket, 'close'), sleep(5000)]);
      socket.destroy();
      assert.match(answered, /^HTTP\/1\.1 400 /);
      assert.match(answered, /\r\nconnection: close\r\n/i);
      assert.equal(server.sessions.size, 0);
      const session = await RawSession.open(base, connect);
      assert.ok('result' in (await session.reply(1)), 'a version 2 client gets the one place of its address');
    });
  });

  it('runs uplink batches in their order, each once, whatever order they arrive in', async () => {
    await withServer({}, async (base) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:order' }]);
      await session.reply(2);
      const publish = (id: number) => ({ type: 'publish', id, channel: 'chat:order', data: { id } });
      assert.equal(await session.send([publish(12)], { seq: 2 }), 204, 'an early batch waits');
      assert.equal(await session.send([publish(13)], { seq: 3 }), 204);
      await sleep(50);
      assert.equal(session.messages.filter(isType('publication')).length, 0, 'nothing ran before batch 1');
      assert.equal(await session.send([publish(11)], { seq: 1 }), 204);
      assert.equal(await session.send([publish(99)], { seq: 2 }), 204, 'a repeated batch is taken and ignored');
      await session.waitFor(() => (session.messages.filter(isType('publication')).length === 3 ? true : undefined), 'three publications');
      await sleep(50);
      const data = session.messages.filter(isType('publication')).map((m) => (m as { data: { id: number } }).data.id);
      assert.deepEqual(data, [11, 12, 13]);
    });
  });

  it('resumes a cut stream after Last-Event-ID with exactly the events that followed', async () => {
    await withServer({}, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:resume' }]);
      await session.reply(2);
      for (let n = 1; n <= 3; n++) await server.publish('chat:resume', { n });
      await session.waitFor(() => (session.messages.filter(isType('publication')).length === 3 ? true : undefined), 'three');
      session.cut();
      await session.waitFor(() => (session.streamEnded ? true : undefined), 'the cut');
      for (let n = 4; n <= 8; n++) await server.publish('chat:resume', { n });
      // Resume as if the last two events had not arrived: they come again, then the rest, each once.
      const keep = session.events.length - 2;
      const after = session.events[keep - 1]!.id;
      session.events.splice(keep);
      assert.equal(await session.resume(after), 200);
      await session.waitFor(() => (session.messages.filter(isType('publication')).length === 8 ? true : undefined), 'all eight');
      await sleep(50);
      assert.deepEqual(session.events.map((event) => event.id), Array.from({ length: session.events.length }, (_, i) => i + 1));
      const offsets = session.messages.filter(isType('publication')).map((m) => (m as { offset: number }).offset);
      assert.deepEqual(offsets, [1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });

  it('acknowledgements count events: the server forgets the acknowledged ones and resumes after any count it still keeps', async () => {
    await withServer({}, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:ack' }]);
      await session.reply(2);
      for (let n = 1; n <= 10; n++) await server.publish('chat:ack', { n });
      await session.waitFor(() => (session.events.length === 12 ? true : undefined), 'two replies and ten publications');
      assert.equal(await session.send([], { ack: 8 }), 204, 'the client acknowledges 8 of the 12 events it received');
      session.cut();
      await session.waitFor(() => (session.streamEnded ? true : undefined), 'the cut');
      session.events.splice(8);
      assert.equal(await session.resume(8), 200);
      await session.waitFor(() => (session.events.length === 12 ? true : undefined), 'events 9 to 12 again');
      await sleep(50);
      const numbers = session.messages.slice(2).map((message) => (message as { data: { n: number } }).data.n);
      assert.deepEqual(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'after the 8th event (publication 6) come publications 7 to 10, each once');
      session.cut();
      await session.waitFor(() => (session.streamEnded ? true : undefined), 'the second cut');
      assert.equal(await session.resume(7), 410, 'the 8th event was acknowledged, so forgotten');
    });
  });

  it('a broadcast reaches every session as the same bytes: events carry no per-session part (no id)', async () => {
    await withServer({}, async (_base, server) => {
      const openRaw = async (messages: object[]): Promise<{ socket: net.Socket; text: () => string }> => {
        const body = JSON.stringify(messages);
        const socket = net.connect(server.port, '127.0.0.1');
        await once(socket, 'connect');
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.write(`POST /rt/http HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nX-Switchboard-Fallback: 2\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        return { socket, text: () => text };
      };
      const until = async (check: () => boolean, what: string): Promise<void> => {
        const deadline = Date.now() + 5000;
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await sleep(10);
        }
      };
      // Before the broadcast, one session got three events and the other two.
      const three = await openRaw([{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:same' }, { type: 'subscribe', id: 3, channel: 'chat:other' }]);
      const two = await openRaw([{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:same' }]);
      await until(() => three.text().includes('"id":3') && two.text().includes('"id":2'), 'the replies');
      await server.publish('chat:same', { n: 1 });
      await until(() => three.text().includes('"n":1') && two.text().includes('"n":1'), 'the publication');
      // The publication's whole HTTP chunk: its size line, the event, the CRLF.
      const chunkOf = (text: string): string | undefined => /\r\n([0-9a-f]+\r\n[^\r]*"type":"publication"[^\r]*\r\n)/.exec(text)?.[1];
      const chunk = chunkOf(three.text());
      assert.match(chunk ?? '', /^[0-9a-f]+\r\ndata: \{"type":"publication","channel":"chat:same"[^\n]*\n\n\r\n$/, 'one data line, no id');
      assert.equal(chunkOf(two.text()), chunk, 'the same bytes in both streams');
      for (const { text } of [three, two]) assert.doesNotMatch(text(), /(^|\n)id:/, 'no event of either stream has an id');
      three.socket.destroy();
      two.socket.destroy();
    });
  });

  it('refuses a resume it cannot serve (events no longer kept) with 410 and ends the session; an unknown session gets 404', async () => {
    await withServer({ limits: { maxQueuedBytes: 4096 } }, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:big' }]);
      await session.reply(2);
      const closed = new Promise((resolve) => server.once('disconnect', (_s, code) => resolve(code)));
      for (let n = 1; n <= 20; n++) {
        await server.publish('chat:big', { n, pad: 'x'.repeat(500) });
        await sleep(2); // let the socket take each event: the stream keeps up, only the replay budget is small
      }
      await session.waitFor(() => (session.messages.filter(isType('publication')).length === 20 ? true : undefined), 'twenty');
      session.cut();
      await session.waitFor(() => (session.streamEnded ? true : undefined), 'the cut');
      assert.equal(await session.resume(1), 410, 'event 2 on fell out of the 4 KiB replay budget');
      assert.equal(await closed, 1006);
      assert.equal(await session.resume(), 404);
      assert.equal(await session.send([{ type: 'pong' }]), 404);
    });
  });

  it('ends a session whose stream stays away longer than the downlink timeout', async () => {
    await withServer({ httpFallback: { downlinkTimeout: 200 } }, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      const disconnected = new Promise<[number, string]>((resolve) => server.once('disconnect', (_s, code, reason) => resolve([code, reason])));
      const started = Date.now();
      session.cut();
      const [code, reason] = await disconnected;
      assert.equal(code, 1006);
      assert.match(reason, /did not come back/);
      assert.ok(Date.now() - started >= 190);
      assert.equal(await session.resume(), 404);
    });
  });

  it('a stream back within the timeout keeps the session (a close event queued meanwhile still arrives)', async () => {
    await withServer({ httpFallback: { downlinkTimeout: 2_000 } }, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      const connected = await session.reply(1);
      session.cut();
      await session.waitFor(() => (session.streamEnded ? true : undefined), 'the cut');
      server.sessions.get((connected as { result: { client: string } }).result.client)!.disconnect(4503, 'kicked');
      assert.equal(await session.resume(), 200);
      assert.deepEqual(await session.closed(), { code: 4503, reason: 'kicked' });
      const disconnect = await session.message(isType('disconnect'));
      assert.deepEqual(disconnect, { type: 'disconnect', code: 4503, reason: 'kicked', reconnect: false });
    });
  });
});

describe('HTTP fallback: limits and authentication as on WebSocket', () => {
  it('a message over maxMessageSize: 413, and the session ends with 1009', async () => {
    await withServer({ maxMessageSize: 1024 }, async (base) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      assert.equal(await session.send([{ type: 'send', data: 'x'.repeat(2000) }]), 413);
      assert.deepEqual(await session.closed(), { code: 1009, reason: 'message too big' });
      const open = await request(base, { method: 'POST', headers: V2, body: JSON.stringify([{ type: 'connect', id: 1, data: 'y'.repeat(20_000) }]) });
      assert.equal(open.status, 413, 'a body over 16 × maxMessageSize');
    });
  });

  it('the rate limit: rate_limited replies, then 4005', async () => {
    await withServer({ limits: { rate: { perSecond: 1, burst: 3, disconnectAfter: 3 } } }, async (base) => {
      const publishes = Array.from({ length: 8 }, (_, i) => ({ type: 'presence_stats', id: 10 + i, channel: 'chat:x' }));
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, ...publishes]);
      const limited = await session.reply(13);
      assert.equal('error' in limited && limited.error.code, 'rate_limited');
      assert.equal((await session.closed()).code, 4005);
    });
  });

  it('pongs count against the rate limit over HTTP too: a batch of them ends with 4005', async () => {
    await withServer({ limits: { rate: { perSecond: 1, burst: 3, disconnectAfter: 4 }, receiveBytes: false } }, async (base) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      assert.equal(await session.send(Array.from({ length: 40 }, () => ({ type: 'pong' }))), 204);
      assert.equal((await session.closed()).code, 4005);
    });
  });

  it('the connect timeout: 4004 when no connect came', async () => {
    await withServer({ connectTimeout: 150 }, async (base) => {
      const session = await RawSession.open(base, []);
      assert.deepEqual(await session.closed(), { code: 4004, reason: 'connect timeout' });
    });
  });

  it('heartbeats: pings arrive as events, pongs go up in batches; an unanswered ping ends with 4003', async () => {
    // A pong budget of 2 s: the answer goes up as its own HTTP request, and a loaded machine can delay the
    // ping's event and the request carrying its pong past a shorter one (500 ms failed so under load).
    await withServer({ ping: 200, pong: 2000 }, async (base) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      for (let round = 0; round < 3; round++) {
        const seen = session.messages.filter(isType('ping')).length;
        await session.waitFor(() => (session.messages.filter(isType('ping')).length > seen ? true : undefined), 'a ping');
        assert.equal(await session.send([{ type: 'pong' }]), 204);
      }
      assert.equal(session.closeEvent, undefined, 'answered pings keep it alive');
      assert.equal((await session.closed()).code, 4003);
    });
  });

  it('a slow consumer: events that pile up while the stream is away end the session with 4002', async () => {
    await withServer({ limits: { maxQueuedBytes: 8192 } }, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:flood' }]);
      await session.reply(2);
      const disconnected = new Promise((resolve) => server.once('disconnect', (_s, code) => resolve(code)));
      session.cut();
      await session.waitFor(() => (session.streamEnded ? true : undefined), 'the cut');
      for (let n = 0; n < 40; n++) await server.publish('chat:flood', { n, pad: 'z'.repeat(400) });
      assert.equal(await disconnected, 4002);
    });
  });

  it('authenticates with the token in connect or in an Authorization header of the open request; refusals end with 4501', async () => {
    await withServer({ auth: { jwt: { secret: SECRET } } }, async (base, server) => {
      const token = signJwt({ sub: 'alice', exp: epochSeconds(3600) }, SECRET);
      const inBody = await RawSession.open(base, [{ type: 'connect', id: 1, token }]);
      assert.equal(((await inBody.reply(1)) as { result: { user: string } }).result.user, 'alice');
      const inHeader = await RawSession.open(base, [{ type: 'connect', id: 1 }], { authorization: `Bearer ${signJwt({ sub: 'bob', exp: epochSeconds(3600) }, SECRET)}` });
      assert.equal(((await inHeader.reply(1)) as { result: { user: string } }).result.user, 'bob');
      const refused = await RawSession.open(base, [{ type: 'connect', id: 1, token: 'forged' }]);
      const reply = await refused.reply(1);
      assert.equal('error' in reply && reply.error.code, 'unauthorized');
      assert.equal((await refused.closed()).code, 4501);
      assert.equal(server.sessions.size, 2);
    });
  });
});

/** A request with exactly these headers (Host and Origin included), through node:http; resolves the status and headers. */
function rawRequest(port: number, path: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, setHost: false }, (res) => {
      res.resume();
      res.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const CONNECT_BODY = JSON.stringify([{ type: 'connect', id: 1 }]);
const JSON_TYPE = { 'content-type': 'application/json', ...V2 };

describe('HTTP fallback: one connection budget per address, Host and Origin as on WebSocket', () => {
  it('WebSockets and fallback sessions count against the same maxConnectionsPerIp (and connectionLimitExempt)', async () => {
    await withServer({ websocket: { maxConnectionsPerIp: 2, connectionLimitExempt: () => false } }, async (base, server) => {
      const url = `ws://127.0.0.1:${server.port}/rt`;
      const first = await WireClient.open(url);
      const second = await WireClient.open(url);
      await assert.rejects(WireClient.open(url), 'a third WebSocket is refused');
      const openSession = () => rawRequest(server.port, '/rt/http', 'POST', { host: `127.0.0.1:${server.port}`, ...JSON_TYPE }, CONNECT_BODY);
      const refused = await openSession();
      assert.equal(refused.status, 429, 'a fallback session is refused too: the address holds two connections');
      assert.equal(refused.headers['retry-after'], '5');
      await first.close();
      await second.close();
      const sessions = [await RawSession.open(base, [{ type: 'connect', id: 1 }]), await RawSession.open(base, [{ type: 'connect', id: 1 }])];
      await Promise.all(sessions.map((session) => session.reply(1)));
      assert.equal((await openSession()).status, 429, 'a third session');
      await assert.rejects(WireClient.open(url), 'a WebSocket while two sessions hold the budget');
      assert.equal(await sessions[0]!.end(), 204);
      const again = await WireClient.open(url);
      await again.close();
    });
  });

  it('allowedHosts (websocket.allowedHosts) guards the fallback as the upgrade: 421 for other hosts, 400 for a malformed Host', async () => {
    await withServer({ websocket: { allowedHosts: ['localhost'] } }, async (_base, server) => {
      const port = server.port;
      const evil = await rawRequest(port, '/rt/http', 'POST', { host: `evil.example:${port}`, ...JSON_TYPE }, CONNECT_BODY);
      assert.equal(evil.status, 421);
      const stream = await rawRequest(port, '/rt/http/stream', 'GET', { host: 'evil.example', 'x-switchboard-session': 'AAAAAAAAAAAAAAAAAAAAAA', 'last-event-id': '0' });
      assert.equal(stream.status, 421);
      assert.equal((await rawRequest(port, '/rt/http', 'POST', { host: 'a b', ...JSON_TYPE }, CONNECT_BODY)).status, 400);
      const local = await rawRequest(port, '/rt/http', 'POST', { host: `localhost:${port}`, ...JSON_TYPE }, CONNECT_BODY);
      assert.equal(local.status, 200);
    });
  });

  it('without allowedOrigins: same-origin pages and clients without Origin only; no CORS header, never for Origin: null', async () => {
    await withServer({}, async (_base, server) => {
      const port = server.port;
      const host = `127.0.0.1:${port}`;
      for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${port + 1}`]) {
        const post = await rawRequest(port, '/rt/http', 'POST', { host, origin, ...JSON_TYPE }, CONNECT_BODY);
        assert.equal(post.status, 403, `Origin: ${origin}`);
        assert.equal(post.headers['access-control-allow-origin'], undefined);
        const preflight = await rawRequest(port, '/rt/http', 'OPTIONS', { host, origin, 'access-control-request-method': 'POST' });
        assert.equal(preflight.status, 403, `preflight from ${origin}`);
        assert.equal(preflight.headers['access-control-allow-origin'], undefined);
      }
      const same = await rawRequest(port, '/rt/http', 'POST', { host, origin: `http://${host}`, ...JSON_TYPE }, CONNECT_BODY);
      assert.equal(same.status, 200, 'same origin');
      assert.equal(same.headers['access-control-allow-origin'], undefined, 'a same-origin page needs no CORS');
      assert.equal((await rawRequest(port, '/rt/http', 'POST', { host, ...JSON_TYPE }, CONNECT_BODY)).status, 200, 'no Origin (not a browser page)');
    });
  });

  it('with allowedOrigins, only the listed origins get CORS, and Origin: null is refused even when listed', async () => {
    await withServer({ allowedOrigins: ['https://app.example', 'null'] }, async (_base, server) => {
      const port = server.port;
      const host = `127.0.0.1:${port}`;
      const allowed = await rawRequest(port, '/rt/http', 'POST', { host, origin: 'https://app.example', ...JSON_TYPE }, CONNECT_BODY);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
      const opaque = await rawRequest(port, '/rt/http', 'POST', { host, origin: 'null', ...JSON_TYPE }, CONNECT_BODY);
      assert.equal(opaque.status, 403);
      assert.equal(opaque.headers['access-control-allow-origin'], undefined);
      const other = await rawRequest(port, '/rt/http', 'POST', { host, origin: 'https://evil.example', ...JSON_TYPE }, CONNECT_BODY);
      assert.equal(other.status, 403);
    });
  });
});

describe('HTTP fallback: memory bounded in bytes', () => {
  it('the uplink window: batches waiting for a missing one hold at most 2 bodies of bytes; more is refused with 409 and ends the session', async () => {
    // maxMessageSize 1024: bodies of at most 16 KiB, a window of 32 KiB.
    await withServer({ maxMessageSize: 1024 }, async (base) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      const batch = Array.from({ length: 15 }, (_, i) => ({ type: 'send', data: `${i}:${'x'.repeat(950)}` }));
      assert.ok(JSON.stringify(batch).length > 14_000 && JSON.stringify(batch).length <= 16 * 1024);
      // Batch 1 never comes: 2 and 3 wait (about 28 KiB), 4 does not fit.
      assert.equal(await session.send(batch, { seq: 2 }), 204);
      assert.equal(await session.send(batch, { seq: 3 }), 204);
      assert.equal(await session.send(batch, { seq: 4 }), 409);
      assert.deepEqual(await session.closed(), { code: 4000, reason: 'too many uplink bytes at once' });
      assert.equal(await session.send(batch, { seq: 5 }), 404, 'the session is gone');
    });
  });

  it('a session that ended here: its uplink requests get 404 before their body is read, and the connection closes', async () => {
    await withServer({}, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      assert.equal(await session.end(), 204);
      await session.waitFor(() => (server.sessions.size === 0 ? true : undefined), 'the session ended');
      // A 1 MiB body announced, 10 bytes of it sent: the answer must not wait for the rest.
      const socket = net.connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      const ended = once(socket, 'close');
      socket.write(
        `POST /rt/http/send HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nX-Switchboard-Session: ${session.id}\r\nX-Switchboard-Seq: 1\r\nContent-Length: 1048576\r\n\r\n[{"type":"`,
      );
      const deadline = Date.now() + 5_000;
      while (!text.includes('\r\n\r\n') && Date.now() < deadline) await sleep(10);
      assert.match(text, /^HTTP\/1\.1 404 /, text.slice(0, 100));
      assert.match(text, /connection: close/i);
      await ended;
    });
  });

  it('batches that wait are kept as bytes and parsed when due: in order, each once', async () => {
    await withServer({}, async (base, server) => {
      const received: unknown[] = [];
      server.on('message', (_session, data) => received.push(data));
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      assert.equal(await session.send([{ type: 'send', data: 3 }], { seq: 3 }), 204);
      assert.equal(await session.send([{ type: 'send', data: 2 }], { seq: 2 }), 204);
      assert.equal(await session.send([{ type: 'send', data: 2 }], { seq: 2 }), 204, 'a repeat');
      assert.deepEqual(received, []);
      assert.equal(await session.send([{ type: 'send', data: 1 }], { seq: 1 }), 204);
      await session.waitFor(() => (received.length === 3 ? true : undefined), 'three sends');
      assert.deepEqual(received, [1, 2, 3]);
    });
  });

  it('a session that never acknowledges keeps at most replayBytes (64 KiB by default) of written events', async () => {
    await withServer({}, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:replay' }]);
      await session.reply(2);
      const pad = 'r'.repeat(1000);
      for (let n = 1; n <= 100; n++) await server.publish('chat:replay', { n, pad });
      await session.waitFor(() => (session.messages.filter(isType('publication')).length === 100 ? true : undefined), 'a hundred');
      session.cut();
      await session.waitFor(() => (session.streamEnded ? true : undefined), 'the cut');
      const last = session.lastEventId;
      assert.equal(await session.resume(last - 100), 410, 'about 100 KiB of events is more than the replay keeps');
    });
    await withServer({ httpFallback: { replayBytes: 256 * 1024 } }, async (base, server) => {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:replay' }]);
      await session.reply(2);
      const pad = 'r'.repeat(1000);
      for (let n = 1; n <= 100; n++) await server.publish('chat:replay', { n, pad });
      await session.waitFor(() => (session.messages.filter(isType('publication')).length === 100 ? true : undefined), 'a hundred');
      session.cut();
      await session.waitFor(() => (session.streamEnded ? true : undefined), 'the cut');
      const from = session.lastEventId - 100;
      const before = session.events.length;
      assert.equal(await session.resume(from), 200, 'replayBytes: 256 KiB keeps them');
      await session.waitFor(() => (session.events.length >= before + 100 ? true : undefined), 'the replayed events');
    });
  });

  it('events are framed the same over HTTP/1.0 (no chunks) as in HTTP/1.1 chunks', async () => {
    await withServer({}, async (_base, server) => {
      const body = JSON.stringify([{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:plain' }]);
      for (const version of ['1.0', '1.1']) {
        const socket = net.connect(server.port, '127.0.0.1');
        await once(socket, 'connect');
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.write(`POST /rt/http HTTP/${version}\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nX-Switchboard-Fallback: 2\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        const deadline = Date.now() + 5000;
        while (!text.includes('"id":2') && Date.now() < deadline) await sleep(10);
        await server.publish('chat:plain', { n: 1 });
        while (!text.includes('"n":1') && Date.now() < deadline) await sleep(10);
        socket.destroy();
        const [head, stream] = text.split('\r\n\r\n', 2) as [string, string];
        const chunked = /transfer-encoding: chunked/i.test(head);
        assert.equal(chunked, version === '1.1', `HTTP/${version}`);
        const events = chunked ? stream.replace(/(^|\r\n)[0-9a-f]+\r\n/g, '') : stream;
        assert.match(events, /^data: \{"type":"reply","id":1,[^\n]*\n\ndata: \{"type":"reply","id":2,[^\n]*\n\ndata: \{"type":"publication","channel":"chat:plain"[^\n]*"n":1[^\n]*\n\n/);
      }
    });
  });

  it('a session that never reads: once it is closed as a slow consumer, its stream is destroyed after closeTimeout, as a WebSocket', async () => {
    const http = createServer();
    const server = createRealtimeServer({
      server: http,
      path: '/rt',
      namespaces: { chat: { publish: 'clients' } },
      // More than the kernel's socket buffers take, so that bytes stay in the response when the session ends.
      limits: { maxQueuedBytes: 8 * 1024 * 1024 },
      websocket: { closeTimeout: 300 },
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as AddressInfo).port;
    const connections = (): Promise<number> => new Promise((resolve, reject) => http.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    try {
      const body = JSON.stringify([{ type: 'connect', id: 1 }, { type: 'subscribe', id: 2, channel: 'chat:deaf' }]);
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.on('error', () => {});
      socket.pause(); // never reads
      const disconnected = new Promise<number>((resolve) => server.once('disconnect', (_s, code) => resolve(code)));
      socket.write(`POST /rt/http HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nX-Switchboard-Fallback: 2\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await new Promise<void>((resolve) => server.once('subscribe', () => resolve()));
      const pad = 'd'.repeat(16 * 1024);
      for (let n = 0; n < 4000 && server.sessions.size > 0; n++) {
        await server.publish('chat:deaf', { n, pad });
        if (n % 10 === 9) await sleep(1);
      }
      assert.equal(await disconnected, 4002);
      const deadline = Date.now() + 10_000;
      while ((await connections()) > 0 && Date.now() < deadline) await sleep(50);
      assert.equal(await connections(), 0, 'the stream that is not read was destroyed');
      socket.destroy();
    } finally {
      await server.close();
      http.closeAllConnections();
      http.close();
    }
  });
});

describe('HTTP fallback: requests, origins, mounting', () => {
  it('answers malformed requests without touching other sessions', async () => {
    await withServer({}, async (base) => {
      assert.equal((await request(base, { method: 'POST', body: '[]', headers: { 'content-type': 'text/plain', ...V2 } })).status, 415);
      assert.equal((await request(base, { method: 'POST', body: '{"type":"connect"}', headers: V2 })).status, 400, 'not an array');
      assert.equal((await request(base, { method: 'POST', body: '[1]', headers: V2 })).status, 400, 'not objects');
      assert.equal((await request(base, { method: 'POST', body: '[{', headers: V2 })).status, 400, 'not JSON');
      const deep = `[{"type":"send","data":${'['.repeat(100)}${']'.repeat(100)}}]`;
      assert.equal((await request(base, { method: 'POST', body: deep, headers: V2 })).status, 400, 'nested too deep');
      assert.equal((await request(base, { method: 'GET' })).status, 405);
      assert.equal((await request(`${base}/send`, { method: 'POST', body: [] })).status, 400, 'no session header');
      const unknown = { 'x-switchboard-session': 'AAAAAAAAAAAAAAAAAAAAAA', 'x-switchboard-seq': '1' };
      assert.equal((await request(`${base}/send`, { method: 'POST', body: [], headers: unknown })).status, 404);
      assert.equal((await request(`${base}/stream`, { method: 'GET', headers: unknown })).status, 404);
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      assert.equal(await session.send([], { body: '{"not":"an array"}' }), 400);
      assert.deepEqual(await session.closed(), { code: 4500, reason: 'malformed message' }, 'a malformed batch ends its session, as on WebSocket');
    });
  });

  it('CORS: preflights and answers of allowed origins carry the headers; other origins get 403', async () => {
    await withServer({ allowedOrigins: ['https://app.example'] }, async (base) => {
      const preflight = await request(base, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Switchboard-Session/);
      assert.equal(preflight.headers.get('access-control-allow-credentials'), null, 'no cookies');
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }], { origin: 'https://app.example' });
      assert.equal(session.openHeaders.get('access-control-allow-origin'), 'https://app.example');
      assert.match(session.openHeaders.get('access-control-expose-headers') ?? '', /X-Switchboard-Session/);
      const refused = await request(base, { method: 'POST', body: [{ type: 'connect', id: 1 }], headers: { origin: 'https://evil.example' } });
      assert.equal(refused.status, 403);
    });
  });

  it('httpFallback: false leaves only the WebSocket endpoint', async () => {
    await withServer({ httpFallback: false }, async (base) => {
      assert.equal((await request(base, { method: 'POST', body: [{ type: 'connect', id: 1 }] })).status, 404);
    });
  });

  it('attached: takes the fallback’s requests before the application’s listener, which gets every other request', async () => {
    const seen: string[] = [];
    const http = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.url ?? '');
      res.writeHead(404).end();
    });
    const server = createRealtimeServer({ server: http, path: '/rt' });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/rt/http`;
    try {
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      assert.equal((await request(`http://127.0.0.1:${(http.address() as AddressInfo).port}/other`, { method: 'GET' })).status, 404);
      assert.deepEqual(seen, ['/other']);
    } finally {
      await server.close();
      http.closeAllConnections();
      http.close();
    }
  });

  it('attached: after close, the fallback’s requests still get 503 and Connection: close until the application’s server closes, never the application’s routes', async () => {
    const seen: string[] = [];
    const http = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(404).end();
    });
    const server = createRealtimeServer({ server: http, path: '/rt' });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const session = await RawSession.open(`${origin}/rt/http`, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      await server.close();
      // A client told 4006 ends its session with a DELETE; a reconnect POSTs a new one.
      const end = await request(`${origin}/rt/http?session=${session.id}`, { method: 'DELETE' });
      assert.equal(end.status, 503);
      assert.equal(end.headers.get('connection'), 'close');
      assert.equal((await request(`${origin}/rt/http`, { method: 'POST', body: '[{"type":"connect","id":1}]' })).status, 503);
      assert.equal((await request(`${origin}/other`, { method: 'GET' })).status, 404);
      assert.deepEqual(seen, ['GET /other'], 'the application saw only its own request');
    } finally {
      http.closeAllConnections();
      http.close();
    }
    await once(http, 'close');
    assert.equal(http.listenerCount('request'), 1);
  });

  it('noServer: handleRequest serves the fallback’s requests and leaves the others', async () => {
    const server = createRealtimeServer({ noServer: true, path: '/rt' });
    const http = createServer((req, res) => {
      if (!server.handleRequest(req, res)) res.writeHead(418).end();
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const session = await RawSession.open(`${origin}/rt/http`, [{ type: 'connect', id: 1 }]);
      await session.reply(1);
      assert.equal((await request(`${origin}/elsewhere`, { method: 'GET' })).status, 418);
    } finally {
      await server.close();
      http.closeAllConnections();
      http.close();
    }
  });

  it('shutdown: open streams get disconnect 4006 and the close event', async () => {
    const server = createRealtimeServer({ port: 0, host: '127.0.0.1', path: '/rt' });
    await server.ready();
    const session = await RawSession.open(`http://127.0.0.1:${server.port}/rt/http`, [{ type: 'connect', id: 1 }]);
    await session.reply(1);
    await server.close();
    assert.deepEqual(await session.closed(), { code: 4006, reason: 'server shutdown' });
    assert.equal((await session.message(isType('disconnect')) as { code: number }).code, 4006);
  });
});
