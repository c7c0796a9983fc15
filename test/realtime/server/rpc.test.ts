/**
 * RPC end to end: client-to-server calls (result, RpcError, a thrown Error,
 * timeout, unknown method, params schema, running alongside later commands),
 * server-to-client calls (result, error, timeout, disconnect) and one-way
 * messages both ways.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { RpcError, type RealtimeServer, type Session } from '../../../src/realtime/server/index.js';
import { isThenable, runWithTimeout } from '../../../src/realtime/server/rpc.js';
import { isPush, ReplyError, sleep, startServer, WireClient, type TestServerOptions } from './wire-client.js';

async function withServer(options: TestServerOptions, run: (url: string, server: RealtimeServer) => Promise<void>): Promise<void> {
  const { server, url } = await startServer(options);
  try {
    await run(url, server);
  } finally {
    await server.close();
  }
}

function rejectsWith(code: string, message?: string): (error: unknown) => boolean {
  return (error) => error instanceof ReplyError && error.code === code && (message === undefined || error.message === `${code}: ${message}`);
}

describe('client-to-server calls', () => {
  test('result, RpcError with data, a thrown Error as internal, not_found', async () => {
    await withServer({}, async (url, server) => {
      const errors: Error[] = [];
      server.on('error', (error) => errors.push(error));
      server
        .method('add', (params) => {
          const { a, b } = params as { a: number; b: number };
          return a + b;
        })
        .method('whoami', async (_params, session) => session.user)
        .method('refuse', () => {
          throw new RpcError('room_full', 'the room is full', { capacity: 2 });
        })
        .method('crash', () => {
          throw new Error('secret detail');
        });
      const { client } = await WireClient.connect(url);
      assert.deepEqual(await client.request('call', { method: 'add', data: { a: 2, b: 3 } }), { data: 5 });
      assert.deepEqual(await client.request('call', { method: 'whoami' }), { data: '' });
      const refused = await client.command('call', { method: 'refuse' });
      assert.deepEqual(refused.error, { code: 'room_full', message: 'the room is full', data: { capacity: 2 } });
      const crashed = await client.command('call', { method: 'crash' });
      assert.deepEqual(crashed.error, { code: 'internal', message: 'internal server error' });
      assert.equal(errors[0]?.message, 'secret detail');
      await assert.rejects(client.request('call', { method: 'missing' }), rejectsWith('not_found'));
      await assert.rejects(client.request('call', { method: '' }), rejectsWith('bad_request'));
      await client.close();
    });
  });

  test('fallbackMethod runs the calls of methods without a handler, under rpcTimeout', async () => {
    const fallbackMethod = async (method: string, params: unknown, session: Session): Promise<unknown> => {
      if (method === 'slow') await sleep(500);
      if (method === 'missing') throw new RpcError('not_found', 'nobody has missing');
      return { method, params, user: session.user };
    };
    await withServer({ fallbackMethod, rpcTimeout: 100 }, async (url, server) => {
      server.method('own', () => 'own handler');
      const { client } = await WireClient.connect(url);
      assert.deepEqual(await client.request('call', { method: 'echo', data: [1] }), { data: { method: 'echo', params: [1], user: '' } });
      assert.deepEqual(await client.request('call', { method: 'own' }), { data: 'own handler' });
      await assert.rejects(client.request('call', { method: 'missing' }), (error: unknown) => error instanceof ReplyError && error.code === 'not_found' && /nobody/.test(error.message));
      await assert.rejects(client.request('call', { method: 'slow' }), (error: unknown) => error instanceof ReplyError && error.code === 'timeout');
      await client.close();
    });
  });

  test('a handler over rpcTimeout → timeout', async () => {
    await withServer({ rpcTimeout: 100 }, async (url, server) => {
      // The handler's 300 ms timer starts just before the 100 ms timeout (runWithTimeout runs it,
      // then arms the timeout), and Node fires due timers in order of expiry, so a `timeout` reply
      // rather than 'late' shows the timeout acted within 300 ms on the server's clock, however
      // late a loaded machine lets the timers fire (a wall-clock bound would count that too).
      server.method('slow', () => sleep(300).then(() => 'late'));
      const { client } = await WireClient.connect(url);
      await assert.rejects(client.request('call', { method: 'slow' }), rejectsWith('timeout'));
      await client.close();
    });
  });

  test('params are checked against the method schema: invalid_data; the handler gets the parsed value', async () => {
    const schemas = { methods: { 'rooms.create': z.object({ name: z.string().min(1) }) } };
    await withServer({ schemas }, async (url, server) => {
      const received: unknown[] = [];
      server.method('rooms.create', (params) => {
        received.push(params);
        return { id: 'r1' };
      });
      const { client } = await WireClient.connect(url);
      const invalid = await client.command('call', { method: 'rooms.create', data: { name: '' } });
      assert.equal(invalid.error?.code, 'invalid_data');
      assert.deepEqual((invalid.error?.data as { issues: Array<{ path: unknown[] }> }).issues[0]?.path, ['name']);
      assert.deepEqual(await client.request('call', { method: 'rooms.create', data: { name: 'x', junk: 1 } }), { data: { id: 'r1' } });
      assert.deepEqual(received, [{ name: 'x' }]);
      await client.close();
    });
  });

  test('a call runs alongside later commands: their replies may overtake it', async () => {
    await withServer({}, async (url, server) => {
      // The handler answers only once the later subscribe has its reply (or
      // after 10 s, which the order below then shows as a failure): a server
      // that ran commands one after another would keep the reply order 1, 2, 3.
      let subscribed!: () => void;
      const subscribeReplied = new Promise<void>((resolve) => (subscribed = resolve));
      server.method('wait', () => Promise.race([subscribeReplied, sleep(10_000)]).then(() => 'done'));
      const { client } = await WireClient.connect(url);
      const call = client.command('call', { method: 'wait' });
      const subscribe = client.command('subscribe', { channel: 'x' }).then((reply) => {
        subscribed();
        return reply;
      });
      await Promise.all([call, subscribe]);
      const ids = client.received.filter((message) => message.type === 'reply').map((message) => (message as { id: number }).id);
      assert.deepEqual(ids, [1, 3, 2]);
      await client.close();
    });
  });
});

describe('server-to-client calls and messages', () => {
  async function connectedSession(server: RealtimeServer, url: string): Promise<{ client: WireClient; session: Session }> {
    const { client, result } = await WireClient.connect(url);
    const session = server.sessions.get(result.client as string);
    assert.ok(session !== undefined);
    return { client, session };
  }

  test('the client replies with a result, or with an error (RpcError with its code)', async () => {
    await withServer({}, async (url, server) => {
      const { client, session } = await connectedSession(server, url);
      const answered = session.call('confirm', { question: 'sure?' });
      const call = await client.nextPush(isPush('call'));
      assert.ok(call.type === 'call');
      assert.deepEqual(call, { type: 'call', id: call.id, method: 'confirm', data: { question: 'sure?' } });
      client.send({ type: 'reply', id: call.id, result: true });
      assert.equal(await answered, true);

      const refused = session.call('unknown', {});
      const second = await client.nextPush((push) => push.type === 'call' && push.id !== call.id);
      assert.ok(second.type === 'call' && second.id !== call.id);
      client.send({ type: 'reply', id: second.id, error: { code: 'not_found', message: 'no handler' } });
      await assert.rejects(refused, (error: unknown) => error instanceof RpcError && error.code === 'not_found' && error.message === 'no handler');
      await client.close();
    });
  });

  test('no reply in time → RpcError timeout; a late reply is ignored', async () => {
    await withServer({}, async (url, server) => {
      const { client, session } = await connectedSession(server, url);
      const started = Date.now();
      await assert.rejects(session.call('think', null, { timeout: 80 }), (error: unknown) => error instanceof RpcError && error.code === 'timeout');
      assert.ok(Date.now() - started >= 75);
      const call = await client.nextPush(isPush('call'));
      client.send({ type: 'reply', id: (call as { id: number }).id, result: 'late' });
      await sleep(20);
      assert.equal(client.ws.readyState, 1);
      await client.close();
    });
  });

  test('rpcTimeout is the default timeout of session.call', async () => {
    await withServer({ rpcTimeout: 60 }, async (url, server) => {
      const { client, session } = await connectedSession(server, url);
      await assert.rejects(session.call('think', null), (error: unknown) => error instanceof RpcError && error.code === 'timeout');
      await client.close();
    });
  });

  test('a disconnect rejects pending calls with disconnected', async () => {
    await withServer({}, async (url, server) => {
      const { client, session } = await connectedSession(server, url);
      const pending = session.call('think', null, { timeout: 5000 });
      await client.nextPush(isPush('call'));
      await client.close();
      await assert.rejects(pending, (error: unknown) => error instanceof RpcError && error.code === 'disconnected');
      await assert.rejects(session.call('again', null), (error: unknown) => error instanceof RpcError && error.code === 'disconnected');
    });
  });

  test('send → the message event; session.send → a message push; session.disconnect → disconnect push and close', async () => {
    await withServer({}, async (url, server) => {
      const { client, session } = await connectedSession(server, url);
      const message = new Promise<unknown[]>((resolve) => server.once('message', (from, data) => resolve([from, data])));
      client.send({ type: 'send', data: { hello: 1 } });
      assert.deepEqual(await message, [session, { hello: 1 }]);
      session.send({ notice: 'hi' });
      assert.deepEqual(await client.nextPush(isPush('message')), { type: 'message', data: { notice: 'hi' } });
      assert.throws(() => session.disconnect(1006), RangeError);
      session.disconnect(4503, 'banned');
      assert.deepEqual(await client.closed, { code: 4503, reason: 'banned' });
      assert.deepEqual(client.pushes.at(-1), { type: 'disconnect', code: 4503, reason: 'banned', reconnect: false });
      assert.equal(server.sessions.size, 0);
    });
  });
});

describe('runWithTimeout', () => {
  test('a value returned by the handler comes back as it is, with no promise and no timer', () => {
    const result = runWithTimeout(() => ({ data: 'x' }), 1_000);
    assert.deepEqual(result, { data: 'x' });
    assert.ok(!isThenable(result));
  });

  test('what a synchronous handler throws is thrown', () => {
    const thrown = new RpcError('forbidden', 'no');
    assert.throws(() => runWithTimeout(() => {
      throw thrown;
    }, 1_000), (error: unknown) => error === thrown);
  });

  test('a thenable result is waited for: its value, its rejection, or timeout after the limit', async () => {
    const value = runWithTimeout(() => Promise.resolve(7), 1_000);
    assert.ok(isThenable(value));
    assert.equal(await value, 7);
    const thenable = { then: (resolve: (value: number) => void) => resolve(8) };
    const custom = runWithTimeout(() => thenable as unknown as PromiseLike<number>, 1_000);
    assert.equal(await custom, 8);
    await assert.rejects(Promise.resolve(runWithTimeout(() => Promise.reject(new Error('boom')), 1_000)), /boom/);
    // the handler's timer does not hold the process open (unref): this one does, for the test
    const keepAlive = setTimeout(() => {}, 1_000);
    await assert.rejects(
      Promise.resolve(runWithTimeout(() => new Promise(() => {}), 30)),
      (error: unknown) => error instanceof RpcError && error.code === 'timeout',
    );
    clearTimeout(keepAlive);
  });
});
