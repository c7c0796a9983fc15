/**
 * User-addressed operations, channels() and nodes(), and the server API's
 * paged channels and connections across two real-time
 * servers that share a real Redis — a single redis-server, and a Redis
 * Cluster (3 masters, 3 replicas; the control messages are sharded pub/sub
 * there), and the master that Redis Sentinels name: a user's connections on both nodes are subscribed, sent to and
 * disconnected from either node, through the library and the server API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import { CONTROL_TARGET } from '../../../src/realtime/server/cluster-control.js';
import { requirePeer } from '../../interop/peers.js';
import { clusterAvailability, RedisCluster, RedisSentinelGroup } from '../broker/redis-cluster.js';
import { RedisServer, redisAvailability } from '../broker/redis-server.js';
import { startApiServer, userAuth, type ApiServer } from './api-helpers.js';
import { isPush, sleep, WireClient } from './wire-client.js';

const NAMESPACES = { room: { history: { size: 10 }, presence: true } };

async function connect(server: ApiServer, user: string): Promise<WireClient> {
  const { client } = await WireClient.connect(server.url, { data: { user } });
  return client;
}

/** The shared scenarios, on two nodes whose brokers reach one Redis (or Redis Cluster) at `url()`. */
function scenarios(url: () => string, prefix: string): void {
  let a: ApiServer;
  let b: ApiServer;
  before(async () => {
    const options = { namespaces: NAMESPACES, auth: userAuth(), clusterTimeout: 1500 };
    a = await startApiServer({ ...options, broker: new RedisBroker({ url: url(), prefix }), nodeName: 'node-a' });
    b = await startApiServer({ ...options, broker: new RedisBroker({ url: url(), prefix }), nodeName: 'node-b' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  test('nodes() and info list both nodes with their connections', async () => {
    const clients = [await connect(a, 'u1'), await connect(b, 'u1'), await connect(b, 'u2')];
    try {
      const nodes = await a.rt.nodes();
      assert.deepEqual(nodes.map((node) => node.id).sort(), [a.rt.nodeId, b.rt.nodeId].sort());
      const byName = new Map(nodes.map((node) => [node.name, node]));
      assert.deepEqual([byName.get('node-a')?.connections, byName.get('node-b')?.connections, byName.get('node-b')?.users], [1, 2, 2]);
      const info = await b.call('info');
      const listed = info.body.result?.nodes as Array<{ name: string; num_clients: number }>;
      assert.deepEqual(listed.map((node) => [node.name, node.num_clients]).sort(), [['node-a', 1], ['node-b', 2]]);
    } finally {
      for (const client of clients) await client.close();
    }
  });

  test('user(id).subscribe from one node subscribes the user\'s tabs on both; an API publish on the other reaches them all', async () => {
    const tabs = [await connect(a, 'alice'), await connect(b, 'alice'), await connect(b, 'alice')];
    try {
      assert.equal(await a.rt.user('alice').subscribe('room:news'), 3);
      for (const tab of tabs) await tab.nextPush(isPush('subscribed', 'room:news'));
      const published = await b.call('publish', { channel: 'room:news', data: { n: 1 } });
      assert.equal(published.status, 200);
      for (const tab of tabs) assert.deepEqual(((await tab.nextPush(isPush('publication', 'room:news'))) as { data: unknown }).data, { n: 1 });
      const channels = await b.rt.channels({ pattern: 'room:*' });
      assert.equal(channels.get('room:news'), 3, 'subscribers summed over the nodes');
      const api = await a.call('channels', { pattern: 'room:news' });
      assert.deepEqual(api.body.result?.channels, { 'room:news': { num_clients: 3 } });
      const stats = await a.call('presence_stats', { channel: 'room:news' });
      assert.deepEqual(stats.body.result, { num_clients: 3, num_users: 1 });
      const ended = await b.call('unsubscribe', { user: 'alice', channel: 'room:news' });
      assert.deepEqual(ended.body.result, { connections: 3 });
      for (const tab of tabs) await tab.nextPush(isPush('unsubscribed', 'room:news'));
    } finally {
      for (const tab of tabs) await tab.close();
    }
  });

  test('channels a page at a time over both nodes: each channel once, on one page, with the subscribers of both summed', async () => {
    const names = Array.from({ length: 12 }, (_, index) => `room:p-${String(index).padStart(2, '0')}`);
    const onA = (index: number): boolean => index % 2 === 0 || index % 3 === 0;
    const onB = (index: number): boolean => index % 2 === 1 || index % 3 === 0;
    const tabA = await connect(a, 'pager');
    const tabB = await connect(b, 'pager');
    try {
      for (const [index, channel] of names.entries()) {
        if (onA(index)) await tabA.request('subscribe', { channel });
        if (onB(index)) await tabB.request('subscribe', { channel });
      }
      for (const [node, limit, sizes] of [[a, 5, [5, 5, 2]], [b, 3, [3, 3, 3, 3]], [a, 1, Array(12).fill(1)]] as const) {
        const pages: Array<Record<string, { num_clients: number }>> = [];
        let cursor: string | undefined;
        do {
          const answer = await node.call('channels', { pattern: 'room:p-*', limit, ...(cursor !== undefined && { cursor }) });
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          pages.push(answer.body.result?.channels as Record<string, { num_clients: number }>);
          cursor = answer.body.result?.next_cursor as string | undefined;
          assert.ok(pages.length <= 12, 'the walk ends');
        } while (cursor !== undefined);
        assert.deepEqual(pages.map((page) => Object.keys(page).length), sizes, `limit ${limit}`);
        assert.deepEqual(pages.flatMap((page) => Object.keys(page)), names, `limit ${limit}: each channel once, in order`);
        const counts = Object.assign({}, ...pages) as Record<string, { num_clients: number }>;
        for (const [index, channel] of names.entries()) assert.equal(counts[channel]?.num_clients, Number(onA(index)) + Number(onB(index)), `${channel}, limit ${limit}`);
      }
      const library = await b.rt.channels({ pattern: 'room:p-*' });
      assert.deepEqual([...library].map(([, count]) => count), names.map((_, index) => Number(onA(index)) + Number(onB(index))));
    } finally {
      await tabA.close();
      await tabB.close();
    }
  });

  test('channels pages next to a node of the earlier version (all its channels, a bare array), and for an earlier requester', async () => {
    const old = new RedisBroker({ url: url(), prefix });
    const requester = new RedisBroker({ url: url(), prefix });
    const answers: unknown[] = [];
    await old.start({
      publication() {},
      join() {},
      leave() {},
      relay(_target, text) {
        const message = JSON.parse(text) as { v: number; kind: string; id: number; from: string; request: { op: string } };
        if (message.kind !== 'request' || message.request.op !== 'channels') return;
        const answer = [['room:old-b', 5], ['room:old-a', 1], ['room:old-c', 2]];
        void old.relay(`sb:node:${message.from}`, JSON.stringify({ v: 1, kind: 'answer', id: message.id, node: 'old', answer }));
      },
    });
    await requester.start({ publication() {}, join() {}, leave() {}, relay: (_target, text) => answers.push(JSON.parse(text)) });
    const tab = await connect(a, 'mixed');
    try {
      await old.listen(CONTROL_TARGET);
      await tab.request('subscribe', { channel: 'room:old-b' });
      const first = await b.call('channels', { pattern: 'room:old-*', limit: 2 });
      assert.deepEqual(first.body.result?.channels, { 'room:old-a': { num_clients: 1 }, 'room:old-b': { num_clients: 6 } });
      const second = await b.call('channels', { pattern: 'room:old-*', limit: 2, cursor: first.body.result?.next_cursor });
      assert.deepEqual([second.body.result?.channels, second.body.result?.next_cursor], [{ 'room:old-c': { num_clients: 2 } }, undefined]);
      await old.close();
      await requester.listen('sb:node:earlier');
      await requester.relay(CONTROL_TARGET, JSON.stringify({ v: 1, kind: 'request', id: 1, from: 'earlier', request: { op: 'channels', pattern: 'room:old-*' } }));
      const deadline = Date.now() + 10_000;
      while (answers.length < 2 && Date.now() < deadline) await sleep(50);
      const bare = answers.map((answer) => (answer as { answer: unknown }).answer);
      assert.deepEqual(bare.filter((answer) => Array.isArray(answer) && answer.length > 0), [[['room:old-b', 1]]], 'a bare array for a request without a limit');
    } finally {
      await tab.close();
      await old.close();
      await requester.close();
    }
  });

  test('connections lists both nodes\' connections with each node\'s uid, by user and a page at a time', async () => {
    const onA = await WireClient.connect(a.url, { data: { user: 'dana' } });
    const onB = [await WireClient.connect(b.url, { data: { user: 'dana' } }), await WireClient.connect(b.url, { data: { user: 'dana' } })];
    const eve = await WireClient.connect(b.url, { data: { user: 'eve' } });
    const nodeOf = new Map<string, string>([[onA.result['client'] as string, a.rt.nodeId], ...onB.map(({ result }) => [result['client'] as string, b.rt.nodeId] as [string, string]), [eve.result['client'] as string, b.rt.nodeId]]);
    const dana = [onA, ...onB].map(({ result }) => result['client'] as string).sort();
    try {
      const all = await a.call('connections', { user: 'dana' });
      const listed = all.body.result?.connections as Record<string, { client: string; user: string; node: string; node_name: string }>;
      assert.deepEqual(Object.keys(listed), dana);
      for (const [client, connection] of Object.entries(listed)) {
        assert.deepEqual([connection.client, connection.user, connection.node], [client, 'dana', nodeOf.get(client)]);
        assert.equal(connection.node_name, connection.node === a.rt.nodeId ? 'node-a' : 'node-b');
      }
      const walked: string[] = [];
      let cursor: string | undefined;
      do {
        const answer = await b.call('connections', { user: 'dana', limit: 1, ...(cursor !== undefined && { cursor }) });
        const page = answer.body.result?.connections as Record<string, { node: string }>;
        assert.equal(Object.keys(page).length, 1);
        walked.push(...Object.keys(page));
        cursor = answer.body.result?.next_cursor as string | undefined;
        assert.ok(walked.length <= 3, 'the walk ends');
      } while (cursor !== undefined);
      assert.deepEqual(walked, dana);
      const everyone = await b.call('connections', { limit: 1000 });
      const nodes = Object.values(everyone.body.result?.connections as Record<string, { client: string; node: string }>).filter(({ client }) => nodeOf.has(client));
      assert.deepEqual(nodes.map(({ client, node }) => [client, node]).sort(), [...nodeOf].sort());
    } finally {
      for (const { client } of [onA, ...onB, eve]) await client.close();
    }
  });

  test('send and disconnect reach the user\'s connections on both nodes, and nobody else', async () => {
    const tabs = [await connect(a, 'bob'), await connect(b, 'bob')];
    const other = await connect(b, 'carol');
    try {
      const sent = await a.call('send', { user: 'bob', data: 'hello bob' });
      assert.deepEqual(sent.body.result, { connections: 2 });
      for (const tab of tabs) assert.equal(((await tab.nextPush(isPush('message'))) as { data: unknown }).data, 'hello bob');
      const gone = await a.call('disconnect', { user: 'bob', code: 4503, reason: 'banned' });
      assert.deepEqual(gone.body.result, { connections: 2 });
      for (const tab of tabs) assert.deepEqual(await tab.closed, { code: 4503, reason: 'banned' });
      await sleep(50);
      assert.equal(other.ws.readyState, 1, 'carol stays');
      assert.equal(other.pushes.filter(isPush('message')).length, 0);
      const clientOnB = [...b.rt.sessions.values()].find((session) => session.user === 'carol')!.id;
      assert.equal(await a.rt.client(clientOnB).disconnect({ reason: 'by id' }), 1);
      assert.deepEqual(await other.closed, { code: 4000, reason: 'by id' });
    } finally {
      for (const client of [...tabs, other]) await client.close();
    }
  });

  test('a node that does not answer is waited for clusterTimeout, then left out; a closed node is not listed', async () => {
    const silent = new RedisBroker({ url: url(), prefix });
    await silent.start({ publication() {}, join() {}, leave() {} });
    try {
      await silent.listen(CONTROL_TARGET);
      const started = Date.now();
      const nodes = await a.rt.nodes();
      const waited = Date.now() - started;
      assert.deepEqual(nodes.map((node) => node.name).sort(), ['node-a', 'node-b']);
      assert.ok(waited >= 1400 && waited < 5000, `waited ${waited} ms`);
    } finally {
      await silent.close();
    }
    // Answered before a timer of clusterTimeout armed just before the call fires: had the node waited for the
    // timeout, its own timer (armed later, due later) would come after this one. A causal check, where a
    // wall-clock bound would also count what a loaded machine adds to the Redis round trips.
    let timedOut = false;
    const timer = setTimeout(() => (timedOut = true), 1500);
    const started = Date.now();
    assert.equal((await a.rt.nodes()).length, 2);
    clearTimeout(timer);
    assert.equal(timedOut, false, `nobody to wait for once the silent listener left (${Date.now() - started} ms)`);
  });

  test('history_remove through one node empties the history both read; the position stays', async () => {
    await a.call('publish', { channel: 'room:h', data: 1 });
    await b.call('publish', { channel: 'room:h', data: 2 });
    assert.equal(((await b.call('history', { channel: 'room:h' })).body.result?.publications as unknown[]).length, 2);
    await a.call('history_remove', { channel: 'room:h' });
    const after = await b.call('history', { channel: 'room:h' });
    assert.deepEqual([(after.body.result?.publications as unknown[]).length, after.body.result?.offset], [0, 2]);
    assert.equal((await b.call('publish', { channel: 'room:h', data: 3 })).body.result?.offset, 3);
  });
}

describe('cluster operations on one redis-server', () => {
  const redis = redisAvailability();
  const options = requirePeer('redis-server', redis.available, redis.reason);
  if (!redis.available) return;
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(() => server?.stop());
  describe('two nodes', options, () => scenarios(() => server.url, 'ops'));
});

describe('the server API while Redis is unreachable', () => {
  const redis = redisAvailability();
  const options = requirePeer('redis-server', redis.available, redis.reason);
  if (!redis.available) return;
  let server: RedisServer;
  let node: ApiServer;
  before(async () => {
    server = await RedisServer.start();
    node = await startApiServer({ namespaces: NAMESPACES, auth: userAuth(), broker: new RedisBroker({ url: server.url, prefix: 'down' }) });
  });
  after(async () => {
    await node?.close();
    await server?.stop();
  });

  test('answers 503 broker_unavailable, and works again once Redis is back', options, async () => {
    await server.kill();
    for (const [method, params] of [['publish', { channel: 'room:x', data: 1 }], ['info', {}], ['send', { user: 'x', data: 1 }], ['history', { channel: 'room:x' }]] as const) {
      const answer = await node.call(method, params);
      assert.deepEqual([answer.status, answer.body.error?.code], [503, 'broker_unavailable'], method);
    }
    await server.resume();
    const deadline = Date.now() + 15_000;
    let answer = await node.call('publish', { channel: 'room:x', data: 1 });
    while (answer.status !== 200 && Date.now() < deadline) {
      await sleep(100);
      answer = await node.call('publish', { channel: 'room:x', data: 1 });
    }
    assert.equal(answer.status, 200);
    let nodes: unknown[] = [];
    while (nodes.length !== 1 && Date.now() < deadline) {
      nodes = ((await node.call('info')).body.result?.nodes as unknown[] | undefined) ?? [];
      if (nodes.length !== 1) await sleep(100);
    }
    assert.equal(nodes.length, 1, 'the node listens to the control plane again after Redis came back');
  });
});

describe('cluster operations on a Redis Cluster', () => {
  const availability = clusterAvailability();
  const options = requirePeer('redis-server and redis-cli (Redis Cluster)', availability.available, availability.reason);
  if (!availability.available) return;
  let cluster: RedisCluster;
  before(async () => {
    cluster = await RedisCluster.start();
  });
  after(() => cluster?.stop());
  describe('two nodes', options, () => scenarios(() => cluster.url(0), 'ops'));
});

describe('cluster operations through Redis Sentinel', () => {
  const availability = clusterAvailability();
  const options = requirePeer('redis-server and redis-cli (Sentinel)', availability.available, availability.reason);
  if (!availability.available) return;
  let group: RedisSentinelGroup;
  before(async () => {
    group = await RedisSentinelGroup.start();
  });
  after(() => group?.stop());
  describe('two nodes', options, () => scenarios(() => group.url, 'ops'));
});
