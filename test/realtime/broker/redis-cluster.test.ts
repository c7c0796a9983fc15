// RedisBroker on a real Redis Cluster (3 masters, 3 replicas, spawned by the
// test): the Broker contract; a node URL detected as a cluster and a list of
// seeds; channels spread over the slots of every master, delivered across
// brokers in order, once; relays; and a master killed while publications
// flow (its replica takes over), including writes the replica never got.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrokerEvents } from '../../../src/realtime/broker/broker.js';
import { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import { keySlot } from '../../../src/realtime/broker/redis-shards.js';
import { requirePeer } from '../../interop/peers.js';
import { runBrokerContract } from './contract.js';
import { decodePublication, publishValue } from './encoded-helpers.js';
import { assertOutages, recorder, runFailover, until, type Seen } from './failover.js';
import { clusterAvailability, RedisCluster } from './redis-cluster.js';

const availability = clusterAvailability();
const peer = requirePeer('redis-server and redis-cli (Redis Cluster)', availability.available, availability.reason);

/** `count` channel names whose slots fall on every one of the cluster's 3 masters' ranges (0-5460, 5461-10922, 10923-16383). */
function spreadChannels(prefix: string, count: number): string[] {
  const thirds = [[], [], []] as string[][];
  for (let index = 0; thirds.some((third) => third.length < count / 3); index += 1) {
    const channel = `room-${index}`;
    const slot = keySlot(`${prefix}:{${channel}}:bus`);
    const third = slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
    if (thirds[third]!.length < count / 3) thirds[third]!.push(channel);
  }
  return thirds.flat();
}

describe('RedisBroker on a Redis Cluster', peer, () => {
  let cluster: RedisCluster;
  let prefixes = 0;
  const brokers: RedisBroker[] = [];

  before(async () => {
    cluster = await RedisCluster.start();
  });
  after(async () => {
    await Promise.all(brokers.map((broker) => broker.close()));
    await cluster?.stop();
  });

  async function broker(events: BrokerEvents, url: string, prefix: string): Promise<RedisBroker> {
    const made = new RedisBroker({ url, prefix, presenceSweepInterval: 50, connectTimeout: 5_000 });
    brokers.push(made);
    await made.start(events);
    return made;
  }

  runBrokerContract('RedisBroker on a Redis Cluster (contract)', async () => {
    const index = prefixes++;
    const made = new RedisBroker({ url: cluster.url(index % 6), prefix: `contract${index}`, presenceSweepInterval: 50 });
    return { broker: made, cleanup: () => made.close() };
  });

  it('finds the cluster from any node or a list of seeds, and computes key slots as Redis does', async () => {
    const one = await broker(recorder().events, cluster.url(4), 'detect');
    const seeds = await broker(recorder().events, `redis://127.0.0.1:1,${cluster.nodes[2]!.address},${cluster.nodes[3]!.address}`, 'detect');
    assert.equal(one.cluster, true);
    assert.equal(seeds.cluster, true);
    for (const key of ['sb:{room}:bus', 'foo', 'a{}b', 'x{héllo}y', '{user1000}.following']) {
      assert.equal(keySlot(key), Number(await cluster.nodes[0]!.command('CLUSTER', 'KEYSLOT', key)), key);
    }
  });

  it('delivers a dozen channels on the slots of every master across brokers on different nodes, in order, once', async () => {
    const channels = spreadChannels('spread', 12);
    const owners = new Set<number>();
    for (const channel of channels) owners.add((await cluster.masterOfSlot(keySlot(`spread:{${channel}}:bus`))).port);
    assert.equal(owners.size, 3, 'the channels live on all three masters');
    const a = recorder();
    const b = recorder();
    const brokerA = await broker(a.events, cluster.url(0), 'spread');
    const brokerB = await broker(b.events, cluster.url(5), 'spread');
    await Promise.all(channels.map((channel) => Promise.all([brokerA.subscribe(channel), brokerB.subscribe(channel)])));
    const rounds = 20;
    for (let round = 1; round <= rounds; round += 1) {
      await Promise.all(channels.map((channel, index) => publishValue(index % 2 === 0 ? brokerA : brokerB, channel, `${channel}#${round}`, { history: { size: 100 } })));
    }
    const total = (seen: Seen): number => [...seen.publications.values()].reduce((sum, list) => sum + list.length, 0);
    await until(() => total(a.seen) === rounds * 12 && total(b.seen) === rounds * 12, 'every publication on both brokers');
    await sleep(200);
    for (const seen of [a.seen, b.seen]) {
      for (const channel of channels) {
        const list = seen.publications.get(channel) ?? [];
        assert.deepEqual(list.map(([offset]) => offset), Array.from({ length: rounds }, (_, index) => index + 1), `${channel}: offsets in order, once`);
        assert.deepEqual(list.map(([, , value]) => value), Array.from({ length: rounds }, (_, index) => `${channel}#${index + 1}`));
      }
    }
    const history = await brokerB.history(channels[0]!, { since: { offset: 0, epoch: '' } });
    assert.equal(history.publications.length, rounds);
    assert.equal(history.complete, true);
  });

  it('relays to a target listened to on another node, wherever its slot lives', async () => {
    const a = recorder();
    const listener = await broker(a.events, cluster.url(1), 'relay');
    const sender = await broker(recorder().events, cluster.url(3), 'relay');
    const targets = ['session-a', 'session-b', 'session-c', 'session-d', 'session-e', 'session-f'];
    for (const target of targets) await listener.listen(target);
    for (const target of targets) assert.equal(await sender.relay(target, target), 1, `${target} reached one process`);
    assert.equal(await sender.relay('nobody', 'x'), 0);
    await until(() => a.seen.relayed.length === targets.length, 'the relayed messages');
    assert.deepEqual([...a.seen.relayed].sort(), targets);
  });

  it('a slot migrated under live traffic: the subscription follows it to the new master, with down and up around the move, and nothing is missed silently', async () => {
    const prefix = 'reshard';
    const channel = 'moving';
    const slot = keySlot(`${prefix}:{${channel}}:bus`);
    const sub = recorder();
    const subscriber = await broker(sub.events, cluster.url(0), prefix);
    const publisher = await broker(recorder().events, cluster.url(2), prefix);
    await subscriber.subscribe(channel);
    const from = await cluster.masterOfSlot(slot);
    const to = (await cluster.masters()).find((node) => node !== from)!;
    const acked: Array<[number, string, unknown]> = [];
    let failures = 0;
    let running = true;
    const flow = (async () => {
      for (let index = 0; running; index += 1) {
        try {
          const position = await publishValue(publisher, channel, index, { history: { size: 10_000 } });
          acked.push([position.offset, position.epoch, index]);
        } catch {
          failures += 1;
        }
        await sleep(2);
      }
    })();
    await until(() => acked.length >= 30, 'publications before the move');
    const moved = await cluster.migrateSlot(slot, to);
    assert.equal(moved, 2, 'the meta and the stream moved');
    assert.equal((await cluster.masterOfSlot(slot)).port, to.port);
    await until(() => sub.seen.states.includes('up'), 'the subscription to follow the slot');
    const afterMove = acked.length;
    await until(() => acked.length >= afterMove + 30, 'publications after the move');
    running = false;
    await flow;
    await until(() => (sub.seen.publications.get(channel) ?? []).at(-1)?.[2] === acked.at(-1)![2], 'the last publication at the subscriber');
    assertOutages(sub.seen.states);
    const live = sub.seen.publications.get(channel)!;
    const upAt = sub.seen.upAt.get(channel) ?? 0;
    for (let index = 1; index < live.length; index += 1) {
      const [offset, epoch] = live[index]!;
      const [previousOffset, previousEpoch] = live[index - 1]!;
      assert.equal(epoch, previousEpoch, 'the epoch survives the move');
      assert.ok(offset > previousOffset, `${offset} after ${previousOffset}: in order, never twice`);
      if (index > upAt) assert.equal(offset, previousOffset + 1, 'no gap once up');
    }
    // The migration moved the stream whole: under the same epoch, the history holds every acknowledged
    // publication, in order, once — what a client sent away at 'up' recovers from.
    const whole = await subscriber.history(channel, { since: { offset: 0, epoch: '' } });
    assert.equal(whole.position.epoch, live[0]![1]);
    assert.equal(whole.complete, true);
    assert.deepEqual(whole.publications.map((publication) => decodePublication(publication).data), acked.map(([, , value]) => value));
    const hidden = acked.length - live.length;
    console.log(`# reshard: ${acked.length} acknowledged, ${failures} refused, ${hidden} hidden by the move (recovered from history)`);
  });

  it('a master killed while publications flow: its replica takes over, the broker reports down then up, and every subscriber has each publication once, in order, or learns its history is gone', async () => {
    const prefix = 'failover';
    const channels = spreadChannels(prefix, 12);
    const sub = recorder();
    const subscriber = await broker(sub.events, cluster.url(0), prefix);
    const publisher = await broker(recorder().events, cluster.url(1), prefix);
    await Promise.all(channels.map((channel) => subscriber.subscribe(channel)));
    const victim = await cluster.masterOfSlot(keySlot(`${prefix}:{${channels[0]}}:bus`));
    const heir = await cluster.replicaOf(victim);
    const outcome = await runFailover({
      channels,
      subscriber,
      sub: sub.seen,
      publisher,
      freeze: () => heir.freeze(),
      failover: async () => {
        await victim.kill();
        heir.thaw();
        await cluster.promoted(heir);
      },
    });
    console.log(`# cluster failover: ${JSON.stringify(outcome)}`);
    assert.ok(outcome.failures > 0, 'publishes to the dead master failed instead of vanishing');
    assert.equal(outcome.lost, 4, 'the 4 channels of the killed master lost writes, and say so');
    assert.equal(outcome.kept, 8, 'the channels of the other masters kept their streams');
  });
});
