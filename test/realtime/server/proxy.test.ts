/**
 * Proxy hooks against a real backend over HTTP: connect (user, info and
 * data from the backend, the allowed client headers passed through),
 * refresh, subscribe, publish (accept, refuse, replace the data), RPC of
 * methods with no local handler, `disconnect` answers, and the failures
 * the client sees clearly: a backend that never answers (timeout), one
 * that is down, and answers that are not valid (bad JSON, too big, an HTTP
 * error, the wrong shape).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createProxyHooks, DisconnectCode, type ProxyOptions, type RealtimeServer } from '../../../src/realtime/server/index.js';
import { RealtimeClient, type SubscribedEvent } from '../../../src/realtime/sdk/node.js';
import type { ConnectResult } from '../../../src/realtime/wire/messages.js';
import { RawSession } from '../fallback/http-client.js';
import { deadUrl, startBackend, type Backend } from './proxy-backend.js';
import { isPush, MSGPACK_PROTOCOL, ReplyError, startServer, type TestServerOptions, WireClient } from './wire-client.js';

let backend: Backend;

before(async () => {
  backend = await startBackend();
});
after(async () => {
  await backend.close();
});

/** A server whose hooks are the proxy's for `proxy` (relative URLs against the backend), with `extra` options. */
async function withProxy(proxy: ProxyOptions, run: (url: string, server: RealtimeServer, errors: Error[]) => Promise<void>, extra: TestServerOptions = {}): Promise<void> {
  const hooks = createProxyHooks({ baseUrl: backend.url, ...proxy });
  const options: TestServerOptions = { namespaces: { '': {}, chat: { history: { size: 10 } } }, ...extra };
  if (hooks.authenticate !== undefined) options.auth = { authenticate: hooks.authenticate };
  if (hooks.authorize !== undefined) options.authorize = hooks.authorize;
  if (hooks.fallbackMethod !== undefined) options.fallbackMethod = hooks.fallbackMethod;
  const { server, url } = await startServer(options);
  const errors: Error[] = [];
  server.on('error', (error) => errors.push(error));
  try {
    await run(url, server, errors);
  } finally {
    await server.close();
    hooks.close();
  }
}

/** The requests the backend got on `path` since `from`. */
function requestsTo(path: string, from = 0): Array<Record<string, unknown>> {
  return backend.requests.slice(from).filter((request) => request.path === path).map((request) => request.body);
}

/** Expects the reply to fail with `code` (and a message matching `message`), then the close with `closeCode`. */
async function expectRefused(client: WireClient, reply: Promise<unknown>, code: string, message: RegExp, closeCode: number): Promise<void> {
  await assert.rejects(reply, (error: unknown) => {
    assert.ok(error instanceof ReplyError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
  assert.equal((await client.closed).code, closeCode);
}

describe('proxy: connect', () => {
  test('the backend names the user from the cookie passed through; info and data reach the client', async () => {
    backend.on('/connect', ({ headers }) =>
      headers.cookie === 'session=s3cret'
        ? { json: { result: { user: 'alice', info: { name: 'Alice' }, data: { plan: 'pro' } } } }
        : { json: { error: { code: 'unauthorized', message: 'no session' } } },
    );
    await withProxy({ connect: 'connect', headers: ['cookie', 'Authorization'] }, async (url, server) => {
      const from = backend.requests.length;
      const { client, result } = await WireClient.connect(url, { name: 'test-client', version: '1.2', data: { tab: 3 } }, { headers: { cookie: 'session=s3cret', 'x-private': 'not passed' } });
      assert.equal(result.user, 'alice');
      assert.deepEqual(result.data, { plan: 'pro' });
      const session = server.sessions.get(result.client as string);
      assert.deepEqual(session?.info, { name: 'Alice' });
      const [request] = backend.requests.slice(from);
      assert.equal(request?.method, 'POST');
      assert.equal(request?.headers['content-type'], 'application/json');
      assert.equal(request?.headers.cookie, 'session=s3cret');
      assert.equal(request?.headers['x-private'], undefined);
      assert.equal(request?.headers.authorization, undefined);
      assert.deepEqual(request?.body, { event: 'connect', transport: 'websocket', remoteAddress: '127.0.0.1', name: 'test-client', version: '1.2', data: { tab: 3 } });
      await client.close();
    });
  });

  test('over the HTTP fallback transport: the cookie of the opening request is passed, the transport named', async () => {
    backend.on('/connect', ({ headers }) => (headers.cookie === 'session=s3cret' ? { json: { result: { user: 'alice' } } } : { json: { error: { code: 'unauthorized' } } }));
    await withProxy({ connect: 'connect', headers: ['cookie'] }, async (url) => {
      const from = backend.requests.length;
      const base = `${url.replace('ws://', 'http://')}http`;
      const session = await RawSession.open(base, [{ type: 'connect', id: 1 }], { cookie: 'session=s3cret' });
      const reply = await session.reply(1);
      assert.equal((reply as { result?: { user?: string } }).result?.user, 'alice');
      const [request] = backend.requests.slice(from);
      assert.equal(request?.headers.cookie, 'session=s3cret');
      assert.equal(request?.body.transport, 'http');
      await session.end();
    });
  });

  test('requestHeaders go with every call and win over a client header of the same name', async () => {
    backend.on('/connect', ({ headers }) => ({ json: { result: { user: headers['x-backend-key'] === 'k-123' ? 'trusted' : 'forged' } } }));
    backend.on('/rpc-key', ({ headers }) => ({ json: { result: { data: headers['x-backend-key'] } } }));
    await withProxy({ connect: 'connect', rpc: 'rpc-key', headers: ['x-backend-key'], requestHeaders: { 'X-Backend-Key': 'k-123' } }, async (url) => {
      const { client, result } = await WireClient.connect(url, {}, { headers: { 'x-backend-key': 'forged' } });
      assert.equal(result.user, 'trusted');
      assert.deepEqual(await client.request('call', { method: 'anything' }), { data: 'k-123' });
      await client.close();
    });
  });

  test('a refusal reaches the client with its code and message, and closes 4501', async () => {
    backend.on('/connect', () => ({ json: { error: { code: 'unauthorized', message: 'no session' } } }));
    await withProxy({ connect: 'connect' }, async (url) => {
      const client = await WireClient.open(url);
      await expectRefused(client, client.request('connect', {}), 'unauthorized', /no session/, DisconnectCode.Unauthorized);
    });
  });

  test('a disconnect answer closes with its code and reason', async () => {
    backend.on('/connect', () => ({ json: { disconnect: { code: 4503, reason: 'banned' } } }));
    await withProxy({ connect: 'connect' }, async (url) => {
      const client = await WireClient.open(url);
      await expectRefused(client, client.request('connect', {}), 'forbidden', /banned/, 4503);
      const disconnect = client.pushes.find(isPush('disconnect'));
      assert.ok(disconnect?.type === 'disconnect');
      assert.equal(disconnect.reason, 'banned');
      assert.equal(disconnect.reconnect, false);
    });
  });

  test('the token goes to the backend; an expiry it gives is enforced, and a refresh goes to the refresh URL', async () => {
    const expires = Date.now() + 60_000;
    backend.on('/connect', ({ body }) => ({ json: { result: { user: String(body.token), expires } } }));
    backend.on('/refresh', ({ body }) => ({ json: { result: { expires: expires + Number(body.token === 'bob-2') * 1000 } } }));
    await withProxy({ connect: 'connect', refresh: 'refresh' }, async (url) => {
      const from = backend.requests.length;
      const { client, result } = await WireClient.connect(url, { token: 'bob' });
      assert.equal(result.user, 'bob');
      assert.equal(result.expires, expires);
      assert.deepEqual(await client.request('refresh', { token: 'bob-2' }), { expires: expires + 1000 });
      const [refresh] = requestsTo('/refresh', from);
      assert.deepEqual(refresh, { event: 'refresh', client: result.client, user: 'bob', transport: 'websocket', remoteAddress: '127.0.0.1', token: 'bob-2' });
      await client.close();
    });
  });

  test('a refresh goes to the connect URL when there is no refresh URL, with its event named', async () => {
    backend.on('/connect', ({ body }) => ({ json: { result: { user: 'carol', expires: Date.now() + (body.event === 'refresh' ? 120_000 : 60_000) } } }));
    await withProxy({ connect: 'connect' }, async (url) => {
      const { client, result } = await WireClient.connect(url, { token: 't1' });
      const refreshed = (await client.request('refresh', { token: 't2' })) as { expires: number };
      assert.ok(refreshed.expires > (result.expires as number) + 30_000);
      await client.close();
    });
  });

  test('a backend answer that changes the user on a refresh is refused (forbidden)', async () => {
    backend.on('/connect', ({ body }) => ({ json: { result: { user: body.event === 'refresh' ? 'mallory' : 'dave' } } }));
    await withProxy({ connect: 'connect' }, async (url) => {
      const { client } = await WireClient.connect(url, { token: 't1' });
      await assert.rejects(client.request('refresh', { token: 't2' }), (error: unknown) => error instanceof ReplyError && error.code === 'forbidden');
      await client.close();
    });
  });
});

describe('proxy: subscribe and publish', () => {
  before(() => {
    backend.on('/subscribe', ({ body }) =>
      body.channel === 'chat:members' && body.user === '' ? { json: { result: {} } } : { json: { error: { code: 'forbidden', message: `members only: ${String(body.channel)}` } } },
    );
    backend.on('/publish', ({ body }) => {
      const data = body.data as { text?: string };
      if (data.text === 'spam') return { json: { error: { code: 'spam', message: 'that looks like spam' } } };
      if (data.text === 'kick me') return { json: { disconnect: { code: 4000, reason: 'go away' } } };
      if (data.text === 'keep') return { json: { result: {} } };
      return { json: { result: { data: { text: String(data.text).toUpperCase(), checked: true } } } };
    });
  });

  test('subscribe: the backend allows one channel and refuses another with its message', async () => {
    await withProxy({ subscribe: 'subscribe' }, async (url) => {
      const from = backend.requests.length;
      const { client, result } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'chat:members', data: { hello: 1 } });
      await assert.rejects(client.request('subscribe', { channel: 'chat:other' }), (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.code, 'forbidden');
        assert.match(error.message, /members only: chat:other/);
        return true;
      });
      assert.deepEqual(requestsTo('/subscribe', from), [
        { client: result.client, user: '', channel: 'chat:members', data: { hello: 1 } },
        { client: result.client, user: '', channel: 'chat:other' },
      ]);
      await client.close();
    });
  });

  test('subscribe: data in the backend\'s result reaches the client in the subscribe result', async () => {
    backend.on('/subscribe-data', ({ body }) => ({ json: { result: { data: { role: 'reader', channel: body.channel } } } }));
    await withProxy({ subscribe: 'subscribe-data' }, async (url) => {
      const { client } = await WireClient.connect(url);
      const result = (await client.request('subscribe', { channel: 'chat:news' })) as { data?: unknown };
      assert.deepEqual(result.data, { role: 'reader', channel: 'chat:news' });
      await client.close();
    });
  });

  test('the SDK: the cookie of its WebSocket reaches the backend, the subscribe data its subscribed event', async () => {
    backend.on('/connect', ({ headers }) => (headers.cookie === 'session=sdk' ? { json: { result: { user: 'erin', data: { plan: 'team' } } } } : { json: { error: { code: 'unauthorized' } } }));
    backend.on('/subscribe-data', ({ body }) => ({ json: { result: { data: { role: body.user === 'erin' ? 'editor' : 'reader' } } } }));
    await withProxy({ connect: 'connect', subscribe: 'subscribe-data', headers: ['cookie'] }, async (url) => {
      const client = new RealtimeClient(url, { webSocketOptions: { headers: { cookie: 'session=sdk' } } });
      try {
        const connected = new Promise<ConnectResult>((resolve) => client.once('connected', resolve));
        client.connect();
        const result = await connected;
        assert.equal(result.user, 'erin');
        assert.deepEqual(result.data, { plan: 'team' });
        const subscription = client.subscribe('chat:docs');
        const [event] = await new Promise<[SubscribedEvent]>((resolve) => subscription.once('subscribed', (...args) => resolve(args)));
        assert.deepEqual(event.data, { role: 'editor' });
      } finally {
        client.close();
      }
    });
  });

  test('publish: the backend replaces the data, keeps it, or refuses with its own code', async () => {
    await withProxy({ publish: 'publish' }, async (url) => {
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'chat:room' });
      await client.request('publish', { channel: 'chat:room', data: { text: 'hello' } });
      await client.request('publish', { channel: 'chat:room', data: { text: 'keep' } });
      await assert.rejects(client.request('publish', { channel: 'chat:room', data: { text: 'spam' } }), (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.code, 'spam');
        assert.match(error.message, /that looks like spam/);
        return true;
      });
      const publications = await client.pushesOf(isPush('publication', 'chat:room'), 2);
      assert.deepEqual(
        publications.map((push) => (push.type === 'publication' ? push.data : null)),
        [{ text: 'HELLO', checked: true }, { text: 'keep' }],
      );
      const history = (await client.request('history', { channel: 'chat:room' })) as { publications: Array<{ data: unknown }> };
      assert.deepEqual(history.publications.map((publication) => publication.data), [{ text: 'HELLO', checked: true }, { text: 'keep' }]);
      await client.close();
    });
  });

  test('publish: binary data of a MessagePack client is refused (invalid_data), not sent mangled', async () => {
    await withProxy({ publish: 'publish' }, async (url) => {
      const from = backend.requests.length;
      const { client } = await WireClient.connect(url, {}, { protocols: [MSGPACK_PROTOCOL] });
      await client.request('subscribe', { channel: 'chat:room' });
      await assert.rejects(client.request('publish', { channel: 'chat:room', data: { file: new Uint8Array([1, 2, 3]) } }), (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.code, 'invalid_data');
        assert.match(error.message, /binary data cannot be sent to the proxy backend/);
        return true;
      });
      assert.equal(requestsTo('/publish', from).length, 0);
      await client.close();
    });
  });

  test('publish: replaced data is held to the publish size limit', async () => {
    backend.on('/publish-big', () => ({ json: { result: { data: 'x'.repeat(2000) } } }));
    await withProxy({ publish: 'publish-big' }, async (url) => {
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'chat:room' });
      await assert.rejects(client.request('publish', { channel: 'chat:room', data: 'small' }), (error: unknown) => error instanceof ReplyError && error.code === 'limit_exceeded');
      await client.close();
    }, { limits: { maxPublishSize: 1000 } });
  });

  test('publish: a disconnect answer refuses the publication and ends the connection', async () => {
    await withProxy({ publish: 'publish' }, async (url) => {
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'chat:room' });
      await expectRefused(client, client.request('publish', { channel: 'chat:room', data: { text: 'kick me' } }), 'forbidden', /go away/, 4000);
    });
  });

  test('presence and history are not sent to the backend', async () => {
    await withProxy({ subscribe: 'subscribe', publish: 'publish' }, async (url) => {
      const from = backend.requests.length;
      const { client } = await WireClient.connect(url);
      await client.request('history', { channel: 'chat:room' });
      assert.equal(backend.requests.length, from);
      await client.close();
    });
  });
});

describe('proxy: rpc', () => {
  before(() => {
    backend.on('/rpc', ({ body }) => {
      const params = body.params as { a: number; b: number };
      if (body.method === 'sum') return { json: { result: { data: params.a + params.b } } };
      if (body.method === 'whoami') return { json: { result: { data: { client: body.client, user: body.user } } } };
      if (body.method === 'hang') return 'hang';
      return { json: { error: { code: 'not_found', message: `the backend has no ${String(body.method)}` } } };
    });
  });

  test('methods without a local handler go to the backend; local ones stay local', async () => {
    await withProxy({ rpc: 'rpc' }, async (url, server) => {
      server.method('local', () => 'here');
      const from = backend.requests.length;
      const { client, result } = await WireClient.connect(url);
      assert.deepEqual(await client.request('call', { method: 'sum', data: { a: 2, b: 3 } }), { data: 5 });
      assert.deepEqual(await client.request('call', { method: 'whoami' }), { data: { client: result.client, user: '' } });
      assert.deepEqual(await client.request('call', { method: 'local' }), { data: 'here' });
      await assert.rejects(client.request('call', { method: 'nope' }), (error: unknown) => error instanceof ReplyError && error.code === 'not_found' && /the backend has no nope/.test(error.message));
      assert.deepEqual(requestsTo('/rpc', from).map((body) => body.method), ['sum', 'whoami', 'nope']);
      await client.close();
    });
  });

  test('calls reuse kept-alive connections to the backend', async () => {
    await withProxy({ rpc: 'rpc' }, async (url) => {
      const { client } = await WireClient.connect(url);
      const before = backend.connections();
      for (let i = 0; i < 10; i++) assert.deepEqual(await client.request('call', { method: 'sum', data: { a: i, b: 1 } }), { data: i + 1 });
      assert.equal(backend.connections() - before, 1);
      await client.close();
    });
  });
});

describe('proxy: failures', () => {
  test('a backend that never answers: the call fails with timeout soon after the proxy timeout', async () => {
    await withProxy({ rpc: 'rpc', timeout: 300 }, async (url, _server, errors) => {
      const { client } = await WireClient.connect(url);
      const started = Date.now();
      await assert.rejects(client.request('call', { method: 'hang' }), (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.code, 'timeout');
        assert.match(error.message, /the proxy backend did not answer within 300 ms/);
        return true;
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 290 && elapsed < 2000, `answered after ${elapsed} ms`);
      assert.ok(errors.some((error) => /no answer within 300 ms/.test(error.message)), 'the failure is reported on the server');
      await client.close();
    });
  });

  test('a slow backend holds up only the connection that waits for it', async () => {
    backend.on('/subscribe-slow', ({ body }) => (body.channel === 'chat:slow' ? 'hang' : { json: { result: {} } }));
    await withProxy({ subscribe: 'subscribe-slow', timeout: 1500 }, async (url) => {
      const { client: waiting } = await WireClient.connect(url);
      const { client: other } = await WireClient.connect(url);
      const slow = waiting.request('subscribe', { channel: 'chat:slow' });
      let slowSettled = false;
      slow.then(
        () => (slowSettled = true),
        () => (slowSettled = true),
      );
      const started = Date.now();
      await other.request('subscribe', { channel: 'chat:fast' });
      // Answered while the slow call still waits for its backend (its 1500 ms timeout has not ended it): a causal
      // check, where a wall-clock bound would also count what a loaded machine adds to the round trip.
      assert.equal(slowSettled, false, `the other connection waited for the slow one (${Date.now() - started} ms)`);
      await assert.rejects(slow, (error: unknown) => error instanceof ReplyError && error.code === 'timeout');
      await Promise.all([waiting.close(), other.close()]);
    });
  });

  test('waiting for a socket counts against the timeout (maxSockets)', async () => {
    backend.on('/rpc-600ms', () => ({ json: { result: { data: 'done' } }, delay: 600 }));
    const twoCalls = (url: string): Promise<Array<PromiseSettledResult<unknown>>> =>
      WireClient.connect(url).then(async ({ client }) => {
        const outcomes = await Promise.allSettled([client.request('call', { method: 'a' }), client.request('call', { method: 'b' })]);
        await client.close();
        return outcomes;
      });
    await withProxy({ rpc: 'rpc-600ms', timeout: 900 }, async (url) => {
      const outcomes = await twoCalls(url);
      assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'fulfilled'], 'side by side, both answer in 600 ms');
    });
    await withProxy({ rpc: 'rpc-600ms', timeout: 900, maxSockets: 1 }, async (url) => {
      const [first, second] = await twoCalls(url);
      assert.equal(first?.status, 'fulfilled');
      assert.ok(second?.status === 'rejected' && second.reason instanceof ReplyError && second.reason.code === 'timeout', 'the second waited for the one socket and ran out of time');
    });
  });

  test('a connect that times out closes 4000 (the client may come back)', async () => {
    backend.on('/connect-hang', () => 'hang');
    await withProxy({ connect: 'connect-hang', timeout: 300 }, async (url) => {
      const client = await WireClient.open(url);
      await expectRefused(client, client.request('connect', {}), 'timeout', /did not answer within 300 ms/, DisconnectCode.Disconnect);
    });
  });

  test('a backend that is down: connect is refused with internal "unreachable" and closes 4000', async () => {
    await withProxy({ baseUrl: await deadUrl(), connect: 'connect', subscribe: 'subscribe' }, async (url, _server, errors) => {
      const client = await WireClient.open(url);
      await expectRefused(client, client.request('connect', {}), 'internal', /the proxy backend is unreachable/, DisconnectCode.Disconnect);
      assert.ok(errors.some((error) => /ECONNREFUSED/.test(error.message)), `the cause is reported: ${errors.map((error) => error.message).join('; ')}`);
    });
  });

  test('the SDK retries a subscription the backend failed (HTTP 503), and it succeeds once the backend is back', async () => {
    let failures = 2;
    backend.on('/subscribe-flaky', () => (failures-- > 0 ? { status: 503, text: 'restarting' } : { json: { result: {} } }));
    await withProxy({ subscribe: 'subscribe-flaky' }, async (url) => {
      const client = new RealtimeClient(url);
      try {
        client.connect();
        const subscription = client.subscribe('chat:flaky');
        const errors: string[] = [];
        subscription.on('error', (error) => errors.push(`${error.code}: ${error.message}`));
        await new Promise((resolve) => subscription.once('subscribed', resolve));
        assert.deepEqual(errors, ['internal: the proxy backend answered HTTP 503', 'internal: the proxy backend answered HTTP 503']);
      } finally {
        client.close();
      }
    });
  });

  test('the SDK comes back after a connect the backend failed (close 4000), and stops after a refusal (4501)', async () => {
    let failures = 2;
    backend.on('/connect-flaky', () => (failures-- > 0 ? { status: 502, text: 'bad gateway' } : { json: { result: { user: 'frank' } } }));
    await withProxy({ connect: 'connect-flaky' }, async (url) => {
      const client = new RealtimeClient(url, { reconnect: { minDelay: 20, maxDelay: 100 } });
      try {
        const codes: Array<number | undefined> = [];
        client.on('connecting', (event) => codes.push(event.code));
        const connected = new Promise<ConnectResult>((resolve) => client.once('connected', resolve));
        client.connect();
        assert.equal((await connected).user, 'frank');
        assert.deepEqual(codes, [undefined, 4000, 4000], 'the first attempt, then two reconnects after close 4000');
      } finally {
        client.close();
      }
    });
    backend.on('/connect-refuse', () => ({ json: { error: { code: 'unauthorized', message: 'no' } } }));
    await withProxy({ connect: 'connect-refuse' }, async (url) => {
      const client = new RealtimeClient(url, { reconnect: { minDelay: 20, maxDelay: 100 } });
      try {
        const disconnected = new Promise<{ code: number }>((resolve) => client.once('disconnected', resolve));
        client.connect();
        assert.equal((await disconnected).code, 4501);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(requestsTo('/connect-refuse').length, 1, 'no second attempt');
      } finally {
        client.close();
      }
    });
  });

  test('a backend that is down: subscribe fails with internal, the connection stays', async () => {
    await withProxy({ baseUrl: await deadUrl(), subscribe: 'subscribe' }, async (url) => {
      const { client } = await WireClient.connect(url);
      await assert.rejects(client.request('subscribe', { channel: 'chat:a' }), (error: unknown) => error instanceof ReplyError && error.code === 'internal' && /unreachable/.test(error.message));
      await client.request('history', { channel: 'chat:a' });
      await client.close();
    });
  });

  const garbage: Array<[string, () => import('./proxy-backend.js').BackendReply, RegExp]> = [
    ['not JSON', () => ({ status: 200, text: '<html>oops</html>' }), /answer is not JSON/],
    ['over maxAnswerBytes', () => ({ json: { result: { data: 'y'.repeat(5000) } } }), /answer is over 1024 bytes/],
    ['an HTTP error', () => ({ status: 502, text: 'bad gateway' }), /answered HTTP 502/],
    ['neither result, error nor disconnect', () => ({ json: { ok: true } }), /answer is invalid/],
    ['a result that is not an object', () => ({ json: { result: 5 } }), /answer is invalid/],
    ['an error without a code', () => ({ json: { error: { message: 'x' } } }), /answer is invalid/],
    ['a disconnect with a code out of range', () => ({ json: { disconnect: { code: 1000 } } }), /answer is invalid/],
  ];
  for (const [name, reply, message] of garbage) {
    test(`an answer that is ${name}: the call fails with internal and says so`, async () => {
      backend.on('/garbage', reply);
      await withProxy({ rpc: 'garbage', maxAnswerBytes: 1024 }, async (url, _server, errors) => {
        const { client } = await WireClient.connect(url);
        await assert.rejects(client.request('call', { method: 'anything' }), (error: unknown) => {
          assert.ok(error instanceof ReplyError);
          assert.equal(error.code, 'internal');
          assert.match(error.message, message);
          return true;
        });
        assert.ok(errors.length > 0, 'the failure is reported on the server');
        await client.close();
      });
    });
  }

  test('a connect answer without a user is invalid', async () => {
    backend.on('/connect-nouser', () => ({ json: { result: { info: 1 } } }));
    await withProxy({ connect: 'connect-nouser' }, async (url) => {
      const client = await WireClient.open(url);
      await expectRefused(client, client.request('connect', {}), 'internal', /answer is invalid/, DisconnectCode.Disconnect);
    });
  });
});

describe('proxy: options', () => {
  test('mistakes are TypeErrors that name them', () => {
    assert.throws(() => createProxyHooks({}), /no event URL/);
    assert.throws(() => createProxyHooks({ connect: 'connect' }), /relative one needs proxy.baseUrl/);
    assert.throws(() => createProxyHooks({ connect: 'ftp://x/' }), /http:\/\/ or https:\/\//);
    assert.throws(() => createProxyHooks({ refresh: 'http://x/refresh' }), /proxy.refresh needs proxy.connect/);
    assert.throws(() => createProxyHooks({ connect: 'http://x/', headers: ['host'] }), /"host" cannot be passed/);
    assert.throws(() => createProxyHooks({ connect: 'http://x/', headers: ['bad header'] }), /not a header name/);
    assert.throws(() => createProxyHooks({ connect: 'http://x/', timeout: 0 }), /proxy.timeout must be a positive integer/);
    assert.throws(() => createProxyHooks({ connect: 'http://x/', requestHeaders: { 'x-key': 'a\r\nInjected: 1' } }), /the value of "x-key" must be a string of visible ASCII/);
    assert.throws(() => createProxyHooks({ connect: 'http://x/', requestHeaders: { Host: 'elsewhere' } }), /proxy.requestHeaders: "host" cannot be passed/);
  });

  test('hooks exist only for the events with a URL', () => {
    const hooks = createProxyHooks({ baseUrl: 'http://x/', publish: 'p' });
    assert.equal(hooks.authenticate, undefined);
    assert.equal(typeof hooks.authorize, 'function');
    assert.equal(hooks.fallbackMethod, undefined);
    assert.equal(hooks.options.timeout, 5000);
    assert.equal(hooks.options.maxAnswerBytes, 256 * 1024);
    hooks.close();
  });
});
