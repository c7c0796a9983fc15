/**
 * Channels end to end: subscribe / unsubscribe / publish and their order
 * guarantees (also with a broker that answers and delivers late), namespace
 * rules and the authorize hook, history, recovery with `since` (also while a
 * publisher keeps going), presence, publication schemas, server.publish.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { MemoryBroker } from '../../../src/realtime/broker/memory-broker.js';
import { DisconnectError, RpcError, type Broker, type BrokerEvents, type RealtimeServer, type ServerMessage } from '../../../src/realtime/server/index.js';
import { isPush, ReplyError, sleep, startServer, WireClient, type TestServerOptions } from './wire-client.js';

async function withServer(options: TestServerOptions, run: (url: string, server: RealtimeServer) => Promise<void>): Promise<void> {
  const { server, url } = await startServer(options);
  try {
    await run(url, server);
  } finally {
    await server.close();
  }
}

function code(expected: string): (error: unknown) => boolean {
  return (error) => error instanceof ReplyError && error.code === expected;
}

type Sub = { offset: number; epoch: string; recoverable: boolean; recovered?: boolean; publications?: Array<{ offset: number; data: unknown }> };

function offsetsOf(pushes: ServerMessage[], channel: string): number[] {
  return pushes.filter(isPush('publication', channel)).map((push) => (push as { offset: number }).offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * A broker in front of a MemoryBroker that answers position/history late and
 * delivers publication events late (in order): the order guarantee of
 * subscribe must hold anyway.
 */
class LaggingBroker implements Broker {
  private readonly inner = new MemoryBroker();
  constructor(private readonly lag: number) {}
  start(events: BrokerEvents): Promise<void> {
    let chain = Promise.resolve();
    return this.inner.start({
      ...events,
      publication: (channel, publication, epoch) => {
        chain = chain.then(() => sleep(Math.random() * this.lag)).then(() => events.publication(channel, publication, epoch));
      },
    });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  subscribe(channel: string): Promise<void> {
    return sleep(this.lag).then(() => this.inner.subscribe(channel));
  }
  unsubscribe(channel: string): Promise<void> {
    return this.inner.unsubscribe(channel);
  }
  publish(...args: Parameters<Broker['publish']>): ReturnType<Broker['publish']> {
    return this.inner.publish(...args);
  }
  async history(...args: Parameters<Broker['history']>): ReturnType<Broker['history']> {
    await sleep(this.lag);
    return this.inner.history(...args);
  }
  async position(channel: string): ReturnType<Broker['position']> {
    const position = await this.inner.position(channel);
    await sleep(this.lag);
    return position;
  }
  addPresence(...args: Parameters<Broker['addPresence']>): Promise<void> {
    return this.inner.addPresence(...args);
  }
  removePresence(channel: string, client: string): Promise<void> {
    return this.inner.removePresence(channel, client);
  }
  removeHistory(channel: string): ReturnType<Broker['removeHistory']> {
    return this.inner.removeHistory(channel);
  }
  presence(channel: string): ReturnType<Broker['presence']> {
    return this.inner.presence(channel);
  }
  listen(target: string): Promise<void> {
    return this.inner.listen(target);
  }
  unlisten(target: string): Promise<void> {
    return this.inner.unlisten(target);
  }
  relay(target: string, message: string): Promise<number> {
    return this.inner.relay(target, message);
  }
}

describe('subscribe, publish, unsubscribe', () => {
  test('publications reach every subscriber (the publisher too) in offset order with no gap', async () => {
    await withServer({ limits: { rate: false } }, async (url) => {
      const clients = await Promise.all([WireClient.connect(url), WireClient.connect(url), WireClient.connect(url)]);
      const [a, b, c] = clients.map(({ client }) => client) as [WireClient, WireClient, WireClient];
      const subscribed = (await a.request('subscribe', { channel: 'news' })) as Sub;
      assert.deepEqual(subscribed, { offset: 0, epoch: subscribed.epoch, recoverable: false });
      await b.request('subscribe', { channel: 'news' });
      await c.request('subscribe', { channel: 'other' });
      const total = 400;
      const replies: Array<Promise<unknown>> = [];
      for (let i = 0; i < total / 2; i++) {
        replies.push(a.request('publish', { channel: 'news', data: { from: 'a', i } }));
        replies.push(b.request('publish', { channel: 'news', data: { from: 'b', i } }));
      }
      const offsets = ((await Promise.all(replies)) as Array<{ offset: number }>).map((reply) => reply.offset).sort((x, y) => x - y);
      assert.deepEqual(offsets, range(1, total));
      for (const client of [a, b]) {
        await client.pushesOf(isPush('publication', 'news'), total);
        assert.deepEqual(offsetsOf(client.pushes, 'news'), range(1, total));
      }
      // Each publisher's own publications arrive in the order it sent them.
      const fromA = a.pushes.filter(isPush('publication', 'news')).map((push) => (push as { data: { from: string; i: number } }).data).filter((data) => data.from === 'a');
      assert.deepEqual(fromA.map((data) => data.i), range(0, total / 2 - 1));
      assert.equal(c.pushes.filter(isPush('publication')).length, 0);
      await Promise.all([a.close(), b.close(), c.close()]);
    });
  });

  test('publisher info is shown unless publisherInfo is false', async () => {
    await withServer({ namespaces: { '': {}, quiet: { publisherInfo: false } } }, async (url) => {
      const { client, result } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'loud' });
      await client.request('subscribe', { channel: 'quiet:x' });
      const loudAt = (await client.request('publish', { channel: 'loud', data: 1 })) as { epoch: string };
      const quietAt = (await client.request('publish', { channel: 'quiet:x', data: 2 })) as { epoch: string };
      const [loud] = await client.pushesOf(isPush('publication', 'loud'), 1);
      const [quiet] = await client.pushesOf(isPush('publication', 'quiet:x'), 1);
      assert.deepEqual(loud, { type: 'publication', channel: 'loud', offset: 1, epoch: loudAt.epoch, data: 1, info: { client: result.client, user: '' } });
      assert.deepEqual(quiet, { type: 'publication', channel: 'quiet:x', offset: 1, epoch: quietAt.epoch, data: 2 });
      await client.close();
    });
  });

  test('no publication precedes the subscribe reply; nothing is lost or doubled, even with a lagging broker', async () => {
    const broker = new LaggingBroker(15);
    await withServer({ broker, limits: { rate: false } }, async (url, server) => {
      let publishing = true;
      let published = 0;
      const publisher = (async () => {
        while (publishing) {
          await server.publish('busy', { n: ++published });
          await sleep(1);
        }
      })();
      await sleep(30);
      const clients: WireClient[] = [];
      const results: Sub[] = [];
      for (let i = 0; i < 4; i++) {
        const { client } = await WireClient.connect(url);
        clients.push(client);
        results.push((await client.request('subscribe', { channel: 'busy' })) as Sub);
        await sleep(10);
      }
      await sleep(50);
      publishing = false;
      await publisher;
      // The broker hands publications on one at a time, each after up to 15 ms:
      // the backlog left when publishing stops may take published × 15 ms to drain.
      const drained = 3000 + published * 15;
      for (const [i, client] of clients.entries()) {
        const start = results[i]!.offset;
        await client.waitFor(() => (offsetsOf(client.pushes, 'busy').at(-1) === published ? true : undefined), drained, `offset ${published}`);
        const replyIndex = client.received.findIndex((message) => message.type === 'reply' && message.id === 2);
        const firstPush = client.received.findIndex(isPush('publication', 'busy'));
        assert.ok(firstPush === -1 || firstPush > replyIndex, 'a publication came before the subscribe reply');
        assert.deepEqual(offsetsOf(client.pushes, 'busy'), range(start + 1, published));
      }
      await Promise.all(clients.map((client) => client.close()));
    });
  });

  test('unsubscribe: no push after the reply; not_subscribed; already_subscribed; limit_exceeded', async () => {
    await withServer({ limits: { maxSubscriptions: 2 } }, async (url, server) => {
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'a' });
      await assert.rejects(client.request('subscribe', { channel: 'a' }), code('already_subscribed'));
      await client.request('subscribe', { channel: 'b' });
      await assert.rejects(client.request('subscribe', { channel: 'c' }), code('limit_exceeded'));
      await server.publish('a', 'before');
      await client.pushesOf(isPush('publication', 'a'), 1);
      const unsubscribe = client.request('unsubscribe', { channel: 'a' });
      const publish = server.publish('a', 'racing');
      assert.deepEqual(await unsubscribe, {});
      await publish;
      await server.publish('a', 'after');
      await assert.rejects(client.request('unsubscribe', { channel: 'a' }), code('not_subscribed'));
      await sleep(20);
      const index = client.received.findIndex((message) => message.type === 'reply' && message.id === 6);
      assert.ok(client.received.slice(index + 1).every((message) => !isPush('publication', 'a')(message)));
      await client.request('subscribe', { channel: 'c' });
      await client.close();
    });
  });

  test('server-side unsubscribe: an unsubscribed push, then nothing more of the channel', async () => {
    await withServer({}, async (url, server) => {
      const { client, result } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'kick' });
      server.sessions.get(result.client as string)?.unsubscribe('kick', 'moderated');
      const push = await client.nextPush(isPush('unsubscribed'));
      assert.deepEqual(push, { type: 'unsubscribed', channel: 'kick', code: 'server', reason: 'moderated' });
      await server.publish('kick', 'gone');
      await sleep(20);
      assert.equal(client.pushes.filter(isPush('publication')).length, 0);
      assert.deepEqual([...(server.sessions.get(result.client as string)?.subscriptions ?? [])], []);
      await client.close();
    });
  });

  test('server.publish reaches subscribers without publisher info', async () => {
    await withServer({ namespaces: { feed: { history: { size: 5 } } } }, async (url, server) => {
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'feed:1' });
      const result = await server.publish('feed:1', { hello: 'world' });
      assert.equal(result.offset, 1);
      const [push] = await client.pushesOf(isPush('publication', 'feed:1'), 1);
      assert.deepEqual(push, { type: 'publication', channel: 'feed:1', offset: 1, epoch: result.epoch, data: { hello: 'world' } });
      await assert.rejects(server.publish('unknown:1', 1), (error: unknown) => (error as { code?: string }).code === 'not_found');
      const history = await server.history('feed:1');
      assert.deepEqual(history.publications, [{ offset: 1, data: { hello: 'world' } }]);
      await client.close();
    });
  });
});

describe('permissions', () => {
  test('namespace rules: publish policy and anonymous users', async () => {
    const namespaces = { '': {}, open: { publish: 'clients' as const }, readonly: { publish: false as const }, members: { anonymous: false } };
    await withServer({ namespaces }, async (url, server) => {
      const { client } = await WireClient.connect(url);
      await assert.rejects(client.request('publish', { channel: 'lobby', data: 1 }), code('forbidden'));
      assert.equal(((await client.request('publish', { channel: 'open:x', data: 1 })) as { offset: number }).offset, 1);
      await client.request('subscribe', { channel: 'readonly:x' });
      await assert.rejects(client.request('publish', { channel: 'readonly:x', data: 1 }), code('forbidden'));
      await assert.rejects(client.request('subscribe', { channel: 'members:x' }), code('forbidden'));
      await server.publish('members:x', 'secret');
      await sleep(20);
      assert.equal(client.pushes.filter(isPush('publication', 'members:x')).length, 0);
      await client.close();
    });
  });

  test('the authorize hook refuses: forbidden, and no pushes of the channel', async () => {
    const calls: string[] = [];
    const authorize = ({ channel, action, data }: { channel: string; action: string; data?: unknown }): boolean => {
      calls.push(`${action} ${channel}`);
      if (channel === 'private' && action === 'subscribe') return (data as { key?: string } | undefined)?.key === 'open sesame';
      return channel !== 'hidden';
    };
    await withServer({ authorize, namespaces: { '': { history: { size: 10 }, presence: true } } }, async (url, server) => {
      const { client } = await WireClient.connect(url);
      await assert.rejects(client.request('subscribe', { channel: 'hidden' }), code('forbidden'));
      await assert.rejects(client.request('subscribe', { channel: 'private', data: { key: 'guess' } }), code('forbidden'));
      await assert.rejects(client.request('history', { channel: 'hidden' }), code('forbidden'));
      await assert.rejects(client.request('presence', { channel: 'hidden' }), code('forbidden'));
      await assert.rejects(client.request('presence_stats', { channel: 'hidden' }), code('forbidden'));
      await server.publish('hidden', 'x');
      await server.publish('private', 'x');
      await sleep(20);
      assert.equal(client.pushes.filter(isPush('publication')).length, 0);
      await client.request('subscribe', { channel: 'private', data: { key: 'open sesame' } });
      await client.request('publish', { channel: 'private', data: 'ok' });
      await client.pushesOf(isPush('publication', 'private'), 1);
      assert.deepEqual(calls.slice(0, 5), ['subscribe hidden', 'subscribe private', 'history hidden', 'presence hidden', 'presence hidden']);
      assert.ok(calls.includes('publish private'));
      await client.close();
    });
  });

  test('an authorize hook that throws → internal (and the error event)', async () => {
    const authorize = (): boolean => {
      throw new Error('policy service down');
    };
    await withServer({ authorize }, async (url, server) => {
      const errors: Error[] = [];
      server.on('error', (error) => errors.push(error));
      const { client } = await WireClient.connect(url);
      await assert.rejects(client.request('subscribe', { channel: 'x' }), code('internal'));
      assert.equal(errors[0]?.message, 'policy service down');
      await client.close();
    });
  });

  test('an authorize hook that throws an RpcError refuses with its code; a DisconnectError also ends the connection', async () => {
    const authorize = ({ channel }: { channel: string }): boolean => {
      if (channel === 'paid') throw new RpcError('payment_required', 'subscribe to the paid plan');
      if (channel === 'banned') throw new DisconnectError(4503, 'you are banned');
      return true;
    };
    await withServer({ authorize }, async (url) => {
      const { client } = await WireClient.connect(url);
      await assert.rejects(client.request('subscribe', { channel: 'paid' }), (error: unknown) => error instanceof ReplyError && error.code === 'payment_required' && /paid plan/.test(error.message));
      await client.request('subscribe', { channel: 'free' });
      await assert.rejects(client.request('subscribe', { channel: 'banned' }), code('forbidden'));
      assert.equal((await client.closed).code, 4503);
    });
  });

  test('an authorize hook that answers { data } replaces the published data (held to the size limit)', async () => {
    const authorize = ({ action, data }: { action: string; data?: unknown }): boolean | { data: unknown } =>
      action === 'publish' ? { data: data === 'big' ? 'z'.repeat(200) : { wrapped: data } } : true;
    await withServer({ authorize, limits: { maxPublishSize: 100 } }, async (url) => {
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'room' });
      await client.request('publish', { channel: 'room', data: 'hi' });
      const [push] = await client.pushesOf(isPush('publication', 'room'), 1);
      assert.deepEqual((push as { data: unknown }).data, { wrapped: 'hi' });
      await assert.rejects(client.request('publish', { channel: 'room', data: 'big' }), code('limit_exceeded'));
      await client.close();
    });
  });

  test('an authorize hook that answers { data } to a subscribe: the data goes with the result (a recovery too), held to maxPublishSize', async () => {
    const authorize = ({ action, channel }: { action: string; channel: string }): boolean | { data: unknown } =>
      action !== 'subscribe' ? true : channel === 'feed:big' ? { data: 'q'.repeat(300) } : { data: { welcome: channel } };
    await withServer({ authorize, namespaces: { feed: { history: { size: 10 } } }, limits: { maxPublishSize: 200 } }, async (url, server) => {
      const { client } = await WireClient.connect(url);
      const first = (await client.request('subscribe', { channel: 'feed:a' })) as { offset: number; epoch: string; data?: unknown };
      assert.deepEqual(first.data, { welcome: 'feed:a' });
      await client.request('unsubscribe', { channel: 'feed:a' });
      await server.publish('feed:a', { n: 1 });
      const again = (await client.request('subscribe', { channel: 'feed:a', since: { offset: first.offset, epoch: first.epoch } })) as { recovered?: boolean; publications?: unknown[]; data?: unknown };
      assert.equal(again.recovered, true);
      assert.equal(again.publications?.length, 1);
      assert.deepEqual(again.data, { welcome: 'feed:a' });
      await assert.rejects(client.request('subscribe', { channel: 'feed:big' }), code('limit_exceeded'));
      assert.equal(server.sessions.values().next().value?.subscriptions.has('feed:big'), false);
      await client.close();
    });
  });

  test('publication data is checked against the namespace schema: invalid_data with issues', async () => {
    const schemas = { channels: { chat: z.object({ text: z.string().max(10) }) } };
    await withServer({ schemas, namespaces: { chat: {} } }, async (url) => {
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'chat:1' });
      await assert.rejects(client.request('publish', { channel: 'chat:1', data: { text: 42 } }), (error: unknown) => {
        assert.ok(error instanceof ReplyError);
        assert.equal(error.code, 'invalid_data');
        const issues = (error.data as { issues: Array<{ path?: unknown[] }> }).issues;
        assert.deepEqual(issues[0]?.path, ['text']);
        return true;
      });
      await client.request('publish', { channel: 'chat:1', data: { text: 'hi', extra: 'stripped' } });
      const [push] = await client.pushesOf(isPush('publication', 'chat:1'), 1);
      assert.deepEqual((push as { data: unknown }).data, { text: 'hi' });
      await client.close();
    });
  });
});

describe('history and recovery', () => {
  const namespaces = { '': {}, h: { history: { size: 5 } } };

  test('history: latest, limit, since, the server cap; unavailable without history', async () => {
    await withServer({ namespaces, limits: { maxHistoryLimit: 3 } }, async (url, server) => {
      for (let i = 1; i <= 7; i++) await server.publish('h:x', i);
      const { client } = await WireClient.connect(url);
      type History = { publications: Array<{ offset: number; data: unknown }>; offset: number; epoch: string };
      const capped = (await client.request('history', { channel: 'h:x' })) as History;
      assert.deepEqual(capped.publications.map((p) => p.offset), [5, 6, 7]);
      assert.equal(capped.offset, 7);
      const limited = (await client.request('history', { channel: 'h:x', limit: 2 })) as History;
      assert.deepEqual(limited.publications.map((p) => p.data), [6, 7]);
      const since = (await client.request('history', { channel: 'h:x', since: { offset: 4, epoch: capped.epoch } })) as History;
      assert.deepEqual(since.publications.map((p) => p.offset), [5, 6, 7]);
      await assert.rejects(client.request('history', { channel: 'plain' }), code('unavailable'));
      await assert.rejects(client.request('history', { channel: 'nope:x' }), code('not_found'));
      await assert.rejects(client.request('history', { channel: 'h:x', limit: -1 }), code('bad_request'));
      await client.close();
    });
  });

  test('since: exactly the missed publications in order; recovered false when trimmed, for another epoch, without history', async () => {
    await withServer({ namespaces }, async (url, server) => {
      const { client } = await WireClient.connect(url);
      const first = (await client.request('subscribe', { channel: 'h:r' })) as Sub;
      assert.deepEqual(first, { offset: 0, epoch: '', recoverable: true }, 'no stream yet: epoch ""');
      await server.publish('h:r', 'a');
      await server.publish('h:r', 'b');
      const [one, two] = await client.pushesOf(isPush('publication', 'h:r'), 2);
      // The first publication of a stream carries its epoch, so that such a subscriber learns it.
      const epoch = (one as { epoch: string }).epoch;
      assert.ok(epoch.length > 0);
      assert.equal((two as { epoch?: string }).epoch, undefined, 'later ones do not');
      await client.request('unsubscribe', { channel: 'h:r' });
      await server.publish('h:r', 'c');
      await server.publish('h:r', 'd');
      const resumed = (await client.request('subscribe', { channel: 'h:r', since: { offset: 2, epoch: epoch } })) as Sub;
      assert.deepEqual(resumed, {
        offset: 4,
        epoch: epoch,
        recoverable: true,
        recovered: true,
        publications: [
          { offset: 3, data: 'c' },
          { offset: 4, data: 'd' },
        ],
      });
      await server.publish('h:r', 'e');
      const after = await client.pushesOf(isPush('publication', 'h:r'), 3);
      assert.equal((after[2] as { offset: number }).offset, 5);

      const nothingMissed = (await client.request('unsubscribe', { channel: 'h:r' }), (await client.request('subscribe', { channel: 'h:r', since: { offset: 5, epoch: epoch } })) as Sub);
      assert.equal(nothingMissed.recovered, true);
      assert.deepEqual(nothingMissed.publications, []);

      await client.request('unsubscribe', { channel: 'h:r' });
      for (let i = 0; i < 7; i++) await server.publish('h:r', i);
      const trimmed = (await client.request('subscribe', { channel: 'h:r', since: { offset: 5, epoch: epoch } })) as Sub;
      assert.equal(trimmed.recovered, false);
      assert.equal(trimmed.offset, 12);
      assert.equal(trimmed.publications, undefined);

      await client.request('unsubscribe', { channel: 'h:r' });
      const otherEpoch = (await client.request('subscribe', { channel: 'h:r', since: { offset: 12, epoch: 'not-the-epoch' } })) as Sub;
      assert.equal(otherEpoch.recovered, false);
      assert.equal(otherEpoch.epoch, epoch);

      const plain = (await client.request('subscribe', { channel: 'plain', since: { offset: 0, epoch: 'x' } })) as Sub;
      assert.equal(plain.recoverable, false);
      assert.equal(plain.recovered, false);
      await client.close();
    });
  });

  test('recovery under load: a client that drops and resubscribes with since misses nothing and gets nothing twice', async () => {
    await withServer({ namespaces: { '': {}, load: { history: { size: 10_000 }, publish: 'clients' } }, limits: { rate: false } }, async (url) => {
      const { client: publisher } = await WireClient.connect(url);
      let publishing = true;
      let sent = 0;
      const publishLoop = (async () => {
        while (publishing) {
          const batch: Array<Promise<unknown>> = [];
          for (let i = 0; i < 5; i++) batch.push(publisher.request('publish', { channel: 'load:1', data: ++sent }));
          await Promise.all(batch);
          await sleep(1);
        }
      })();
      const seen: number[] = [];
      let position = { offset: 0, epoch: '' };
      const take = (client: WireClient, from: number): void => {
        for (const push of client.pushes.slice(from)) {
          if (push.type === 'publication' && push.channel === 'load:1') {
            seen.push(push.offset);
            position = { offset: push.offset, epoch: position.epoch };
          }
        }
      };
      for (let round = 0; round < 4; round++) {
        const { client } = await WireClient.connect(url);
        const since = position.epoch === '' ? undefined : position;
        const result = (await client.request('subscribe', since === undefined ? { channel: 'load:1' } : { channel: 'load:1', since })) as Sub;
        if (since !== undefined) {
          assert.equal(result.recovered, true);
          for (const publication of result.publications ?? []) seen.push(publication.offset);
        }
        position = { offset: result.offset, epoch: result.epoch };
        await sleep(40);
        client.ws.close();
        await client.closed;
        take(client, 0);
        await sleep(20);
      }
      publishing = false;
      await publishLoop;
      const start = seen[0]!;
      assert.ok(seen.length > 50, `only ${seen.length} publications seen`);
      assert.deepEqual(seen, range(start, start + seen.length - 1));
      await publisher.close();
    });
  });
});

describe('presence', () => {
  const namespaces = { '': {}, room: { presence: true }, quiet: { presence: true, joinLeave: false } };

  test('join and leave pushes, presence and presence_stats, leave on disconnect', async () => {
    const users = ['alice', 'bob', 'alice'];
    let next = 0;
    const auth = { authenticate: () => ({ user: users[next++ % users.length]!, info: { n: next } }) };
    await withServer({ namespaces, auth }, async (url, server) => {
      const { client: a, result: ra } = await WireClient.connect(url, { token: 't' });
      await a.request('subscribe', { channel: 'room:1' });
      const selfJoin = await a.nextPush(isPush('join', 'room:1'));
      assert.deepEqual(selfJoin, { type: 'join', channel: 'room:1', member: { client: ra.client, user: 'alice', info: { n: 1 } } });
      const { client: b, result: rb } = await WireClient.connect(url, { token: 't' });
      await b.request('subscribe', { channel: 'room:1' });
      const { client: c } = await WireClient.connect(url, { token: 't' });
      await c.request('subscribe', { channel: 'room:1' });
      await a.pushesOf(isPush('join', 'room:1'), 3);
      const { members } = (await a.request('presence', { channel: 'room:1' })) as { members: Array<{ user: string }> };
      assert.deepEqual(members.map((member) => member.user), ['alice', 'bob', 'alice']);
      assert.deepEqual(await a.request('presence_stats', { channel: 'room:1' }), { clients: 3, users: 2 });
      assert.equal((await server.presence('room:1')).length, 3);

      await b.request('unsubscribe', { channel: 'room:1' });
      const leave = await a.nextPush(isPush('leave', 'room:1'));
      assert.deepEqual(leave, { type: 'leave', channel: 'room:1', member: { client: rb.client, user: 'bob', info: { n: 2 } } });
      await c.close();
      await a.pushesOf(isPush('leave', 'room:1'), 2);
      assert.deepEqual(await a.request('presence_stats', { channel: 'room:1' }), { clients: 1, users: 1 });
      await assert.rejects(a.request('presence', { channel: 'plain' }), code('unavailable'));
      await Promise.all([a.close(), b.close()]);
    });
  });

  test('joinLeave false: members are listed but no join/leave pushes', async () => {
    await withServer({ namespaces }, async (url) => {
      const { client: a } = await WireClient.connect(url);
      const { client: b } = await WireClient.connect(url);
      await a.request('subscribe', { channel: 'quiet:1' });
      await b.request('subscribe', { channel: 'quiet:1' });
      assert.deepEqual(await a.request('presence_stats', { channel: 'quiet:1' }), { clients: 2, users: 1 });
      await b.close();
      await sleep(20);
      assert.equal(a.pushes.filter((push) => push.type === 'join' || push.type === 'leave').length, 0);
      await a.close();
    });
  });

  test('members outlive presenceTtl while connected (refreshed every ttl/3)', async () => {
    await withServer({ namespaces, presenceTtl: 150 }, async (url) => {
      const { client } = await WireClient.connect(url);
      await client.request('subscribe', { channel: 'room:ttl' });
      await sleep(500);
      assert.deepEqual(await client.request('presence_stats', { channel: 'room:ttl' }), { clients: 1, users: 1 });
      assert.equal(client.pushes.filter(isPush('leave')).length, 0);
      await client.close();
    });
  });
});
