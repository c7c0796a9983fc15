// RedisBroker behind Redis Sentinel (1 master, 1 replica, 3 Sentinels, all
// spawned by the test): the Broker contract through a redis+sentinel:// URL,
// and a failover under traffic — the master killed, the Sentinels promote
// the replica, the broker follows it, and subscribers either get every
// publication in order, once, or learn that their history is gone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import { requirePeer } from '../../interop/peers.js';
import { runBrokerContract } from './contract.js';
import { publishValue } from './encoded-helpers.js';
import { recorder, runFailover } from './failover.js';
import { clusterAvailability, RedisSentinelGroup } from './redis-cluster.js';

const availability = clusterAvailability();
const peer = requirePeer('redis-server (Sentinel)', availability.available, availability.reason);

describe('RedisBroker behind Redis Sentinel', peer, () => {
  let group: RedisSentinelGroup;
  let prefixes = 0;
  const brokers: RedisBroker[] = [];

  before(async () => {
    group = await RedisSentinelGroup.start();
  });
  after(async () => {
    await Promise.all(brokers.map((broker) => broker.close()));
    await group?.stop();
  });

  runBrokerContract('RedisBroker behind Sentinel (contract)', async () => {
    const made = new RedisBroker({ url: group.url, prefix: `contract${prefixes++}`, presenceSweepInterval: 50 });
    return { broker: made, cleanup: () => made.close() };
  });

  it('durability "replica" resolves once the replica has the publication, and rejects when no replica answers', async () => {
    const durable = new RedisBroker({ url: group.url, prefix: 'durable', durability: 'replica', replicaTimeout: 300 });
    brokers.push(durable);
    await durable.start(recorder().events);
    const published = await publishValue(durable, 'ledger', 'kept', { history: { size: 10 } });
    const onReplica = await group.replica.command('HGET', 'durable:{ledger}:m', 'offset');
    assert.equal(Number(onReplica), published.offset, 'the replica has it when publish resolves');
    group.replica.freeze();
    try {
      await assert.rejects(publishValue(durable, 'ledger', 'at risk', { history: { size: 10 } }), (error: Error) => {
        assert.equal(error.name, 'BrokerDurabilityError');
        assert.match(error.message, /no replica acknowledged publication 2 within 300 ms/);
        return true;
      });
    } finally {
      group.replica.thaw();
    }
    await group.settled();
  });

  it('the master killed while publications flow: the Sentinels promote the replica, the broker follows it, and every subscriber has each publication once, in order, or learns its history is gone', async () => {
    const channels = Array.from({ length: 6 }, (_, index) => `room-${index}`);
    const sub = recorder();
    const subscriber = new RedisBroker({ url: group.url, prefix: 'failover' });
    const publisher = new RedisBroker({ url: group.url, prefix: 'failover' });
    brokers.push(subscriber, publisher);
    await subscriber.start(sub.events);
    await publisher.start(recorder().events);
    await Promise.all(channels.map((channel) => subscriber.subscribe(channel)));
    assert.equal(await group.masterPort(), group.master.port);
    const outcome = await runFailover({
      channels,
      subscriber,
      sub: sub.seen,
      publisher,
      freeze: () => group.replica.freeze(),
      failover: async () => {
        await group.master.kill();
        group.replica.thaw();
        await group.promoted(group.replica);
      },
    });
    console.log(`# sentinel failover: ${JSON.stringify(outcome)}`);
    assert.ok(outcome.failures > 0, 'publishes while no master was known failed instead of vanishing');
    assert.equal(outcome.lost, channels.length, 'every channel lost writes with the master, and says so');
  });
});
