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
import { clusterAvailability, RedisCluster } from './redis-cluster.js';

const availability = clusterAvailability();
const peer = requirePeer('redis-server and redis-cli (Redis Cluster)', availability.available, availability.reason);

interface Seen {
  /** Per channel: [offset, epoch, value] in arrival order. */
  publications: Map<string, Array<[number, string, unknown]>>;
  states: string[];
  relayed: string[];
  /** Per channel: how many publications had arrived when the broker last reported 'up'. */
  upAt: Map<string, number>;
}

function recorder(): { events: BrokerEvents; seen: Seen } {
  const seen: Seen = { publications: new Map(), states: [], relayed: [], upAt: new Map() };
  const events: BrokerEvents = {
    publication: (channel, publication, epoch) => {
      const list = seen.publications.get(channel) ?? [];
      list.push([publication.offset, epoch, decodePublication(publication).data]);
      seen.publications.set(channel, list);
    },
    join: () => {},
    leave: () => {},
    state: (state) => {
      seen.states.push(state);
      if (state === 'up') for (const [channel, list] of seen.publications) seen.upAt.set(channel, list.length);
    },
    relay: (_target, message) => seen.relayed.push(message),
  };
  return { events, seen };
}

async function until(condition: () => boolean, what: string, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

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

  it('a master killed while publications flow: its replica takes over, the broker reports down then up, and every subscriber has each publication once, in order, or learns its history is gone', async () => {
    const prefix = 'failover';
    const channels = spreadChannels(prefix, 12);
    const sub = recorder();
    const subscriber = await broker(sub.events, cluster.url(0), prefix);
    const publisher = await broker(recorder().events, cluster.url(1), prefix);
    await Promise.all(channels.map((channel) => subscriber.subscribe(channel)));
    const victimSlot = keySlot(`${prefix}:{${channels[0]}}:bus`);
    const victim = await cluster.masterOfSlot(victimSlot);
    const heir = await cluster.replicaOf(victim);

    // Acknowledged publications, per channel: [offset, epoch, value].
    const acked = new Map<string, Array<[number, string, string]>>(channels.map((channel) => [channel, []]));
    let failures = 0;
    let running = true;
    let counter = 0;
    const flow = (async () => {
      while (running) {
        await Promise.all(
          channels.map(async (channel) => {
            const value = `${channel}#${counter}`;
            try {
              const position = await publishValue(publisher, channel, value, { history: { size: 10_000 } });
              acked.get(channel)!.push([position.offset, position.epoch, value]);
            } catch {
              failures += 1;
            }
          }),
        );
        counter += 1;
        await sleep(5);
      }
    })();
    await until(() => counter >= 20, 'publications before the failover');
    // The replica is frozen first, so the master acknowledges writes it never gets: a failover loses them.
    heir.freeze();
    const frozenAt = counter;
    await until(() => counter >= frozenAt + 10, 'publications the replica never got');
    await cluster.nodes.find((node) => node === victim)!.kill();
    heir.thaw();
    await cluster.promoted(heir);
    await until(() => sub.seen.states.includes('up') && sub.seen.states.includes('down'), 'the subscriber broker to report down, then up');
    const afterFailover = counter;
    await until(() => counter >= afterFailover + 20, 'publications after the failover');
    running = false;
    await flow;
    await sleep(300);

    assert.deepEqual(sub.seen.states, ['down', 'up'], 'one outage, reported');
    assert.ok(failures > 0, 'publishes to the dead master failed instead of vanishing');
    let lostChannels = 0;
    for (const channel of channels) {
      const live = sub.seen.publications.get(channel) ?? [];
      // Within one epoch, live deliveries are in order and never doubled; once the broker said 'up'
      // again, without a gap (a new epoch starts at 1). A gap is only possible while it said 'down'.
      const upAt = sub.seen.upAt.get(channel) ?? 0;
      for (let index = 1; index < live.length; index += 1) {
        const [offset, epoch] = live[index]!;
        const [previousOffset, previousEpoch] = live[index - 1]!;
        if (epoch === previousEpoch) assert.ok(offset > previousOffset, `${channel}: ${offset} after ${previousOffset} in one epoch`);
        if (index > upAt) {
          if (epoch === previousEpoch) assert.equal(offset, previousOffset + 1, `${channel}: no gap after 'up'`);
          else assert.equal(offset, 1, `${channel}: a new epoch starts at 1`);
        }
      }
      // What a client that saw the last live publication of the old epoch gets when it recovers.
      const oldEpoch = live[0]![1];
      const lastOld = live.filter(([, epoch]) => epoch === oldEpoch).at(-1)!;
      const recovery = await subscriber.history(channel, { since: { offset: lastOld[0], epoch: oldEpoch } });
      const final = acked.get(channel)!.at(-1)!;
      if (recovery.complete) {
        // Nothing of what it saw is gone: the history continues it to the last acknowledged publication.
        assert.equal(recovery.position.epoch, oldEpoch);
        const seenValues = live.filter(([, epoch]) => epoch === oldEpoch).map(([, , value]) => value);
        const all = [...seenValues, ...recovery.publications.map((publication) => decodePublication(publication).data)];
        const expected = acked.get(channel)!.filter(([, epoch]) => epoch === oldEpoch).map(([, , value]) => value);
        assert.deepEqual(all.slice(-expected.length), expected, `${channel}: every acknowledged publication, in order, once`);
        assert.equal(recovery.position.offset, final[0]);
      } else {
        lostChannels += 1;
        assert.notEqual(recovery.position.epoch, oldEpoch, `${channel}: lost history shows as a new epoch, not as the same stream`);
        assert.equal(final[1], recovery.position.epoch, `${channel}: later publications are in the new epoch`);
      }
    }
    assert.ok(lostChannels >= 1, 'the channels of the killed master lost writes, and say so');
    assert.ok(lostChannels < channels.length, 'the channels of the other masters kept their streams');
  });
});
