/**
 * The connection lifecycle end to end: connect (anonymous, JWT, header,
 * authenticate hook), refusals and their close codes, refresh and expiry,
 * the connect timeout, commands before connect, malformed messages, and
 * subprotocol negotiation (JSON, MessagePack, none, unknown).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { HandshakeError } from '../../../src/node/client-index.js';
import { createRealtimeServer, type AuthOutcome, type RealtimeServer } from '../../../src/realtime/server/index.js';
import {
  epochSeconds,
  isPush,
  JSON_PROTOCOL,
  MSGPACK_PROTOCOL,
  ReplyError,
  signJwt,
  sleep,
  startServer,
  type TestServerOptions,
  WireClient,
} from './wire-client.js';

const SECRET = 'test-secret-of-enough-length-0123456789';

async function withServer(options: TestServerOptions, run: (url: string, server: RealtimeServer) => Promise<void>): Promise<void> {
  const { server, url } = await startServer(options);
  try {
    await run(url, server);
  } finally {
    await server.close();
  }
}

/** Expects the reply code, then a `disconnect` push and the close with `code`. */
async function expectRefused(client: WireClient, reply: Promise<unknown>, errorCode: string, closeCode: number): Promise<void> {
  await assert.rejects(reply, (error: unknown) => error instanceof ReplyError && error.code === errorCode);
  const closed = await client.closed;
  assert.equal(closed.code, closeCode);
  const disconnect = client.pushes.find(isPush('disconnect'));
  assert.ok(disconnect !== undefined && disconnect.type === 'disconnect');
  assert.equal(disconnect.code, closeCode);
  assert.equal(disconnect.reconnect, closeCode < 4500);
}

describe('connect', () => {
  test('anonymous by default: client id, empty user, heartbeat intervals', async () => {
    await withServer({ ping: 1000, pong: 500 }, async (url, server) => {
      const connected = new Promise((resolve) => server.once('connect', resolve));
      const { client, result } = await WireClient.connect(url, { name: 'test', version: '1' });
      assert.equal(typeof result.client, 'string');
      assert.ok((result.client as string).length >= 16);
      assert.equal(result.user, '');
      assert.equal(result.ping, 1000);
      assert.equal(result.pong, 500);
      assert.equal('expires' in result, false);
      await connected;
      assert.equal(server.sessions.get(result.client as string)?.user, '');
      await client.close();
    });
  });

  test('anonymous off: no credential → unauthorized, disconnect and close 4501', async () => {
    await withServer({ auth: { anonymous: false } }, async (url) => {
      const client = await WireClient.open(url);
      await expectRefused(client, client.request('connect'), 'unauthorized', 4501);
    });
  });

  test('HS256 JWT: user from sub, expires from exp, info from the info claim', async () => {
    await withServer({ auth: { jwt: { secret: SECRET } }, namespaces: { room: { presence: true } } }, async (url, server) => {
      const exp = epochSeconds(3600);
      const token = signJwt({ sub: 'alice', exp, info: { name: 'Alice' } }, SECRET);
      const { client, result } = await WireClient.connect(url, { token });
      assert.equal(result.user, 'alice');
      assert.equal(result.expires, exp * 1000);
      const session = server.sessions.get(result.client as string);
      assert.deepEqual(session?.info, { name: 'Alice' });
      await client.request('subscribe', { channel: 'room:1' });
      const { members } = (await client.request('presence', { channel: 'room:1' })) as { members: unknown[] };
      assert.deepEqual(members, [{ client: result.client, user: 'alice', info: { name: 'Alice' } }]);
      await client.close();
    });
  });

  test('JWT configured: no token is refused (anonymous defaults to off)', async () => {
    await withServer({ auth: { jwt: { secret: SECRET } } }, async (url) => {
      const client = await WireClient.open(url);
      await expectRefused(client, client.request('connect'), 'unauthorized', 4501);
    });
  });

  test('a token with a bad signature → unauthorized, close 4501', async () => {
    await withServer({ auth: { jwt: { secret: SECRET } } }, async (url) => {
      const client = await WireClient.open(url);
      const token = signJwt({ sub: 'mallory', exp: epochSeconds(3600) }, 'another-secret-another-secret-12345');
      await expectRefused(client, client.request('connect', { token }), 'unauthorized', 4501);
    });
  });

  test('an expired token → token_expired, close 4001 (reconnect with a fresh token)', async () => {
    await withServer({ auth: { jwt: { secret: SECRET } } }, async (url) => {
      const client = await WireClient.open(url);
      const token = signJwt({ sub: 'alice', exp: epochSeconds(-60) }, SECRET);
      await expectRefused(client, client.request('connect', { token }), 'token_expired', 4001);
    });
  });

  test('the token of an Authorization: Bearer header', async () => {
    await withServer({ auth: { jwt: { secret: SECRET } } }, async (url) => {
      const token = signJwt({ sub: 'bob', exp: epochSeconds(3600) }, SECRET);
      const { client, result } = await WireClient.connect(url, {}, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(result.user, 'bob');
      await client.close();
    });
  });

  test('authenticate hook: sees token, claims, data and the request; its data returns in the result', async () => {
    const seen: unknown[] = [];
    const options = {
      auth: {
        jwt: { secret: SECRET },
        authenticate: ({ token, claims, data, request }: { token?: string; claims?: { sub?: string }; data: unknown; request: { url?: string } }): AuthOutcome | null => {
          seen.push({ token: token !== undefined, sub: claims?.sub, data, url: request.url });
          if (claims?.sub === 'blocked') return null;
          return { user: `user:${claims?.sub ?? ''}`, data: { welcome: true } };
        },
      },
    };
    await withServer(options, async (url) => {
      const token = signJwt({ sub: 'carol', exp: epochSeconds(3600) }, SECRET);
      const { client, result } = await WireClient.connect(`${url}?room=1`, { token, data: { x: 1 } });
      assert.equal(result.user, 'user:carol');
      assert.deepEqual(result.data, { welcome: true });
      assert.deepEqual(seen[0], { token: true, sub: 'carol', data: { x: 1 }, url: '/?room=1' });
      await client.close();

      const blocked = await WireClient.open(url);
      const reply = blocked.request('connect', { token: signJwt({ sub: 'blocked', exp: epochSeconds(3600) }, SECRET) });
      await expectRefused(blocked, reply, 'unauthorized', 4501);
    });
  });

  test('an authenticate hook that throws → internal, close 4000, error event', async () => {
    const options = { auth: { authenticate: (): AuthOutcome => { throw new Error('database down'); } } };
    await withServer(options, async (url, server) => {
      const errors: Error[] = [];
      server.on('error', (error) => errors.push(error));
      const client = await WireClient.open(url);
      await expectRefused(client, client.request('connect', { token: 'x' }), 'internal', 4000);
      assert.equal(errors[0]?.message, 'database down');
    });
  });
});

describe('refresh and expiry', () => {
  /** Tokens "user:lifetime-ms" accepted by a hook, expiring lifetime ms from the check. */
  const hookAuth = {
    auth: {
      authenticate: ({ token }: { token?: string }): AuthOutcome | null => {
        const [user, lifetime] = (token ?? '').split(':');
        if (user === undefined || user === '' || lifetime === undefined) return null;
        return { user, expires: Date.now() + Number(lifetime) };
      },
    },
  };

  test('expiry without refresh → disconnect 4001 and close', async () => {
    await withServer(hookAuth, async (url, server) => {
      const disconnected = new Promise<number>((resolve) => server.once('disconnect', (_session, code) => resolve(code)));
      const before = Date.now();
      const { client, result } = await WireClient.connect(url, { token: 'alice:300' });
      // 300 ms from when the server authenticated, i.e. after `before` (comparing with the time the reply was read
      // would also count a loaded machine's delays, which can outlast the lifetime).
      assert.ok(typeof result.expires === 'number' && result.expires >= before + 300);
      const closed = await client.closed;
      assert.equal(closed.code, 4001);
      const push = client.pushes.find(isPush('disconnect'));
      assert.deepEqual(push, { type: 'disconnect', code: 4001, reason: 'token expired', reconnect: true });
      assert.equal(await disconnected, 4001);
    });
  });

  test('refresh before expiry keeps the connection', async () => {
    await withServer(hookAuth, async (url) => {
      // A lifetime the refresh (150 ms in) reaches the server within even when timers fire hundreds of ms late,
      // then a wait past the first expiry: the subscribe below, answered after it, shows the connection was kept.
      const { client, result } = await WireClient.connect(url, { token: 'alice:1000' });
      await sleep(150);
      const refreshed = (await client.request('refresh', { token: 'alice:60000' })) as { expires: number };
      assert.ok(refreshed.expires > Date.now() + 50_000);
      await sleep(Math.max(0, (result.expires as number) - Date.now()) + 100);
      assert.equal(client.ws.readyState, 1);
      const subscribed = (await client.request('subscribe', { channel: 'still-here' })) as { offset: number; recoverable: boolean };
      assert.equal(subscribed.offset, 0);
      assert.equal(subscribed.recoverable, false);
      await client.close();
    });
  });

  test('refresh for another user → forbidden; an invalid one → unauthorized; the old credential still holds', async () => {
    await withServer(hookAuth, async (url) => {
      // A lifetime the two refused refreshes are answered within even on a loaded machine: the connection must
      // still be open after them, then end at the old credential's expiry.
      const { client } = await WireClient.connect(url, { token: 'alice:1500' });
      await assert.rejects(client.request('refresh', { token: 'bob:60000' }), (error: unknown) => error instanceof ReplyError && error.code === 'forbidden');
      await assert.rejects(client.request('refresh', { token: 'garbage' }), (error: unknown) => error instanceof ReplyError && error.code === 'unauthorized');
      assert.equal(client.ws.readyState, 1);
      assert.equal((await client.closed).code, 4001);
    });
  });

  test('JWT refresh: a new token of the same subject moves the expiry', async () => {
    await withServer({ auth: { jwt: { secret: SECRET } } }, async (url) => {
      const { client, result } = await WireClient.connect(url, { token: signJwt({ sub: 'dave', exp: epochSeconds(60) }, SECRET) });
      const exp = epochSeconds(7200);
      const refreshed = await client.request('refresh', { token: signJwt({ sub: 'dave', exp }, SECRET) });
      assert.deepEqual(refreshed, { expires: exp * 1000 });
      assert.ok((result.expires as number) < exp * 1000);
      const expired = signJwt({ sub: 'dave', exp: epochSeconds(-10) }, SECRET);
      await assert.rejects(client.request('refresh', { token: expired }), (error: unknown) => error instanceof ReplyError && error.code === 'token_expired');
      await client.close();
    });
  });
});

describe('before and around connect', () => {
  test('no connect within connectTimeout → disconnect and close 4004', async () => {
    await withServer({ connectTimeout: 150 }, async (url) => {
      const client = await WireClient.open(url);
      const closed = await client.closed;
      assert.equal(closed.code, 4004);
      assert.deepEqual(client.pushes, [{ type: 'disconnect', code: 4004, reason: 'connect timeout', reconnect: true }]);
    });
  });

  test('commands before connect → not_connected; connect still works after', async () => {
    await withServer({}, async (url) => {
      const client = await WireClient.open(url);
      await assert.rejects(client.request('subscribe', { channel: 'a' }), (error: unknown) => error instanceof ReplyError && error.code === 'not_connected');
      await assert.rejects(client.request('refresh', { token: 't' }), (error: unknown) => error instanceof ReplyError && error.code === 'not_connected');
      await client.request('connect');
      await client.request('subscribe', { channel: 'a' });
      await client.close();
    });
  });

  test('commands pipelined after connect run after it, in order', async () => {
    await withServer({}, async (url) => {
      const client = await WireClient.open(url);
      const replies = [client.command('connect'), client.command('subscribe', { channel: 'p' }), client.command('publish', { channel: 'p', data: 1 })];
      const [connect, subscribe, publish] = await Promise.all(replies);
      assert.ok(connect.result !== undefined && subscribe.result !== undefined && publish.result !== undefined);
      const order = client.received.filter((message) => message.type === 'reply').map((message) => (message as { id: number }).id);
      assert.deepEqual(order, [1, 2, 3]);
      await client.close();
    });
  });

  test('a second connect → bad_request; the connection stays', async () => {
    await withServer({}, async (url) => {
      const { client } = await WireClient.connect(url);
      await assert.rejects(client.request('connect'), (error: unknown) => error instanceof ReplyError && error.code === 'bad_request');
      await client.request('subscribe', { channel: 'ok' });
      await client.close();
    });
  });

  test('an unknown type or bad field with a usable id → bad_request reply; the connection stays', async () => {
    await withServer({}, async (url) => {
      const { client } = await WireClient.connect(url);
      await assert.rejects(client.request('teleport', { to: 'mars' }), (error: unknown) => error instanceof ReplyError && error.code === 'bad_request');
      await assert.rejects(client.request('subscribe', { channel: 42 }), (error: unknown) => error instanceof ReplyError && error.code === 'bad_request');
      await assert.rejects(client.request('subscribe', { channel: 'bad name' }), (error: unknown) => error instanceof ReplyError && error.code === 'bad_request');
      await assert.rejects(client.request('subscribe', { channel: 'x'.repeat(256) }), (error: unknown) => error instanceof ReplyError && error.code === 'bad_request');
      await assert.rejects(client.request('subscribe', { channel: 'nope:1' }), (error: unknown) => error instanceof ReplyError && error.code === 'not_found');
      assert.equal(client.ws.readyState, 1);
      await client.close();
    });
  });

  for (const [label, payload] of [
    ['not JSON', '{"type":'],
    ['not an object', '[1,2]'],
    ['an unknown type without id', '{"type":"teleport"}'],
    ['a command without id', '{"type":"subscribe","channel":"a"}'],
    ['a command with id 0', '{"type":"subscribe","id":0,"channel":"a"}'],
  ] as const) {
    test(`${label} → disconnect and close 4500`, async () => {
      await withServer({}, async (url) => {
        const { client } = await WireClient.connect(url);
        client.ws.send(payload);
        const closed = await client.closed;
        assert.equal(closed.code, 4500);
        const push = client.pushes.find(isPush('disconnect'));
        assert.ok(push !== undefined && push.type === 'disconnect' && push.reconnect === false);
      });
    });
  }
});

describe('transport modes', () => {
  test('attached to an HTTP server, on one path: other paths get 404', async () => {
    const http = createServer((_request, response) => response.end('plain http'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as AddressInfo).port;
    const server = createRealtimeServer({ server: http, path: '/rt' });
    try {
      await server.ready();
      const { client, result } = await WireClient.connect(`ws://127.0.0.1:${port}/rt`);
      assert.equal(typeof result.client, 'string');
      await client.close();
      await assert.rejects(WireClient.open(`ws://127.0.0.1:${port}/elsewhere`), (error: unknown) => error instanceof HandshakeError && error.status === 404);
    } finally {
      await server.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  test('noServer: upgrades handed over by the application', async () => {
    const server = createRealtimeServer({ noServer: true });
    const http = createServer();
    http.on('upgrade', (request, socket, head) => server.handleUpgrade(request, socket, head));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      await server.ready();
      const { client } = await WireClient.connect(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/any`);
      await client.request('subscribe', { channel: 'x' });
      await client.close();
    } finally {
      await server.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});

describe('subprotocols', () => {
  test('no subprotocol offered → JSON', async () => {
    await withServer({}, async (url) => {
      const { client, result } = await WireClient.connect(url, {}, { protocols: [] });
      assert.equal(client.ws.protocol, '');
      assert.equal(typeof result.client, 'string');
      await client.close();
    });
  });

  test('only unknown subprotocols → HTTP 400', async () => {
    await withServer({}, async (url) => {
      await assert.rejects(WireClient.open(url, { protocols: ['mqtt', 'switchboard.v2.json'] }), (error: unknown) => {
        return error instanceof HandshakeError && error.status === 400;
      });
    });
  });

  test("the first supported subprotocol in the client's order", async () => {
    await withServer({}, async (url) => {
      const first = await WireClient.open(url, { protocols: ['mqtt', MSGPACK_PROTOCOL, JSON_PROTOCOL] });
      assert.equal(first.ws.protocol, MSGPACK_PROTOCOL);
      await first.close();
      const second = await WireClient.open(url, { protocols: [JSON_PROTOCOL, MSGPACK_PROTOCOL] });
      assert.equal(second.ws.protocol, JSON_PROTOCOL);
      await second.close();
    });
  });

  test('MessagePack round trip: binary data, publications to JSON and MessagePack subscribers', async () => {
    await withServer({ namespaces: { '': {}, bin: { history: { size: 10 } } } }, async (url, server) => {
      const { client: packed } = await WireClient.connect(url, {}, { protocols: [MSGPACK_PROTOCOL] });
      const { client: text } = await WireClient.connect(url);
      await packed.request('subscribe', { channel: 'bin:x' });
      await text.request('subscribe', { channel: 'bin:x' });
      const bytes = new Uint8Array([0, 1, 2, 254, 255]);
      const published = (await packed.request('publish', { channel: 'bin:x', data: { bytes, n: 1 } })) as { offset: number };
      assert.equal(published.offset, 1);
      await server.publish('bin:x', { text: 'from server' });
      const [first, second] = await packed.pushesOf(isPush('publication', 'bin:x'), 2);
      assert.ok(first?.type === 'publication' && second?.type === 'publication');
      assert.deepEqual(first.data, { bytes, n: 1 });
      assert.ok((first.data as { bytes: unknown }).bytes instanceof Uint8Array);
      assert.deepEqual(first.info, { client: (packed.received[0] as { result: { client: string } }).result.client, user: '' });
      assert.deepEqual(second.data, { text: 'from server' });
      const [viaJson] = await text.pushesOf(isPush('publication', 'bin:x'), 1);
      assert.equal(viaJson?.type, 'publication');
      const history = (await packed.request('history', { channel: 'bin:x' })) as { publications: Array<{ data: { bytes?: Uint8Array } }> };
      assert.deepEqual(history.publications[0]?.data.bytes, bytes);
      await packed.close();
      await text.close();
    });
  });

  test('a text frame on a MessagePack connection → close 4500', async () => {
    await withServer({}, async (url) => {
      const { client } = await WireClient.connect(url, {}, { protocols: [MSGPACK_PROTOCOL] });
      client.ws.send('{"type":"pong"}');
      assert.equal((await client.closed).code, 4500);
    });
  });
});
