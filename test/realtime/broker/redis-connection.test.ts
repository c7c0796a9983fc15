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
    for (let index = 1; index <= 4; index += 1) await publishValue(broker, 'ledger', index, { history: { size: 100 } });
    // What a replica has if replication stops here: the meta and the stream at offset 4.
    const replicated = await Promise.all(['fence:{ledger}:m', 'fence:{ledger}:s'].map((key) => client.dumpBuffer(key)));
    await publishValue(broker, 'ledger', 5, { history: { size: 100 } });
    const before = await broker.position('ledger');
    const runId = /run_id:(\w+)/.exec(await client.info('server'))![1];
    const replid = /master_replid:(\w+)/.exec(await client.info('replication'))![1];
    assert.equal(await client.hget('fence:{ledger}:m', 'node'), `${runId}/${replid}`, 'the meta names the process that wrote it, and its replication id');
    const next = await publishValue(broker, 'ledger', 6, { history: { size: 100 } });
    assert.deepEqual([next.offset, next.epoch], [6, before.epoch], 'the same process continues the stream');
    // The replica is promoted: it holds offset 4, and its meta names the old master (another process and replication id).
    await client.restore('fence:{ledger}:m', 0, replicated[0]!, 'REPLACE');
    await client.restore('fence:{ledger}:s', 0, replicated[1]!, 'REPLACE');
    await client.hset('fence:{ledger}:m', 'node', `${'f'.repeat(40)}/${'e'.repeat(40)}`);
    const served = await broker.history('ledger', { since: { offset: 6, epoch: before.epoch } });
    assert.equal(served.complete, false, 'a client that saw offset 6 learns its history is not all there');
    const first = await publishValue(broker, 'ledger', 'after the failover', { history: { size: 100 } });
    assert.notEqual(first.epoch, before.epoch, 'a new epoch');
    assert.equal(first.offset, 5, 'numbered on from the surviving offset, so a subscriber at 4 takes it as the next one');
    const recovered = await broker.history('ledger', { since: { offset: 4, epoch: before.epoch } });
    assert.equal(recovered.complete, false, 'recovering across the change is not complete: offsets 5+ may now mean other publications');
    assert.deepEqual(recovered.position, { offset: 5, epoch: first.epoch });
    const again = await publishValue(broker, 'ledger', 'and on', { history: { size: 100 } });
    assert.deepEqual([again.offset, again.epoch], [6, first.epoch], 'the new writer continues its own epoch');
  });
});
