// The broker URL forms (redis-connection.ts) and the epoch fencing of the
// publish script against a real redis-server: a channel whose meta was last
// written by another Redis process (as after a failover or a restart) starts
// a new stream on its next publication instead of continuing the old epoch.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import { parseRedisUrl, redactRedisUrl, RedisUrlError } from '../../../src/realtime/broker/redis-connection.js';
import { requirePeer } from '../../interop/peers.js';
import { publishValue } from './encoded-helpers.js';
import { RedisServer, redisAvailability } from './redis-server.js';

describe('broker URLs', () => {
  it('reads one node, seed lists, Sentinel groups, credentials, TLS and the database', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:7000'), { kind: 'node', url: 'redis://127.0.0.1:7000', nodes: [{ host: '127.0.0.1', port: 7000 }], options: {} });
    const seeds = parseRedisUrl('rediss://app:s%40cret@a:7000,b:7001,[::1]:7002/0');
    assert.equal(seeds.kind, 'node');
    assert.deepEqual(seeds.kind === 'node' && seeds.nodes, [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }, { host: '::1', port: 7002 }]);
    assert.deepEqual(seeds.options, { username: 'app', password: 's@cret', tls: {}, db: 0 });
    const sentinel = parseRedisUrl('redis+sentinel://:pw@s1:26379,s2,s3:26381/mymaster/2');
    assert.equal(sentinel.kind, 'sentinel');
    assert.deepEqual(sentinel.kind === 'sentinel' && [sentinel.sentinels, sentinel.masterName], [[{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: 's3', port: 26381 }], 'mymaster']);
    assert.deepEqual(sentinel.options, { password: 'pw', db: 2 });
    assert.deepEqual(parseRedisUrl('redis://cache').kind === 'node' && (parseRedisUrl('redis://cache') as { nodes: unknown }).nodes, [{ host: 'cache', port: 6379 }]);
  });

  it('refuses what it cannot use, saying what the forms are; hides passwords in messages', () => {
    for (const url of ['localhost:6379', 'http://a:1', 'redis+sentinel://s1:26379', 'redis+sentinel://s1:26379/', 'redis://a:99999', 'redis://a:1/x']) {
      assert.throws(() => parseRedisUrl(url), RedisUrlError, url);
    }
    assert.throws(() => new RedisBroker({ url: 'redis+sentinel://s1' }), /names the master/);
    assert.equal(redactRedisUrl('redis://app:secret@a:1,b:2'), 'redis://app:***@a:1,b:2');
  });
});

const redis = redisAvailability();

describe('epoch fencing', requirePeer('redis-server', redis.available, redis.reason), () => {
  let server: RedisServer;
  let broker: RedisBroker;
  let client: Redis;
  before(async () => {
    server = await RedisServer.start();
    broker = new RedisBroker({ url: server.url, prefix: 'fence' });
    await broker.start({ publication() {}, join() {}, leave() {} });
    client = new Redis(server.url);
  });
  after(async () => {
    client.disconnect();
    await broker.close();
    await server.stop();
  });

  it('a stream last written by another Redis process (a failover, a restart) is not continued under its epoch', async () => {
    for (let index = 1; index <= 5; index += 1) await publishValue(broker, 'ledger', index, { history: { size: 100 } });
    const before = await broker.position('ledger');
    const runId = /run_id:(\w+)/.exec(await client.info('server'))![1];
    assert.equal(await client.hget('fence:{ledger}:m', 'node'), runId, 'the meta names the process that wrote it');
    const next = await publishValue(broker, 'ledger', 6, { history: { size: 100 } });
    assert.deepEqual([next.offset, next.epoch], [6, before.epoch], 'the same process continues the stream');
    // What a promoted replica holds: the meta as the old master last replicated it, naming the old master.
    await client.hset('fence:{ledger}:m', 'node', 'f'.repeat(40), 'offset', 4);
    const served = await broker.history('ledger', { since: { offset: 6, epoch: before.epoch } });
    assert.equal(served.complete, false, 'a client that saw offset 6 learns its history is not all there');
    const first = await publishValue(broker, 'ledger', 'after the failover', { history: { size: 100 } });
    assert.equal(first.offset, 1, 'a new stream starts at 1');
    assert.notEqual(first.epoch, before.epoch, 'under a new epoch');
    const recovered = await broker.history('ledger', { since: { offset: 4, epoch: before.epoch } });
    assert.equal(recovered.complete, false, 'even a client that saw only what survived must reload: offsets 5+ now mean other publications');
    assert.deepEqual(recovered.position, { offset: 1, epoch: first.epoch });
    const whole = await broker.history('ledger', { since: { offset: 0, epoch: '' } });
    assert.deepEqual(whole.publications.map((publication) => publication.offset), [1], 'the old entries are not served in the new stream');
  });
});
