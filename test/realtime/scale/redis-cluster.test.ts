// Two `switchboard serve` processes on one Redis Cluster (3 masters, 3
// replicas, spawned by the test), each given a different node (one a single
// node URL, the other a list of seeds): clients on each publish in a dozen
// channels whose slots are spread over every master, and every client gets
// every publication of its channels in order, exactly once. Then a master is
// killed: /healthz reports the broker down and up again, and the clients
// recover — every publication in order, once, or `recovered: false`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { keySlot } from '../../../src/realtime/broker/redis-shards.js';
import { RealtimeClient } from '../../../src/realtime/sdk/node.js';
import type { PublicationEvent, SubscribedEvent } from '../../../src/realtime/sdk/node.js';
import { startServe, type ServeProcess } from '../../cli/serve-helpers.js';
import { requirePeer } from '../../interop/peers.js';
import { clusterAvailability, RedisCluster } from '../broker/redis-cluster.js';

const availability = clusterAvailability();
const peer = requirePeer('redis-server and redis-cli (Redis Cluster)', availability.available, availability.reason);

async function until(condition: () => boolean | Promise<boolean>, what: string, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** `count` channels of namespace `feed` whose slots (server prefix 'sb') fall on each third of the slot space. */
function spreadChannels(count: number, suffix = ''): string[] {
  const thirds = [[], [], []] as string[][];
  for (let index = 0; thirds.some((third) => third.length < count / 3); index += 1) {
    const channel = `feed:room-${index}${suffix}`;
    const slot = keySlot(`sb:{${channel}}:bus`);
    const third = slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
    if (thirds[third]!.length < count / 3) thirds[third]!.push(channel);
  }
  return thirds.flat();
}

async function health(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
  } catch {
    return 0;
  }
}

describe('switchboard serve on a Redis Cluster', peer, () => {
  let cluster: RedisCluster;
  let dir: string;
  const serves: ServeProcess[] = [];
  const clients: RealtimeClient[] = [];

  before(async () => {
    cluster = await RedisCluster.start();
    dir = mkdtempSync(join(tmpdir(), 'switchboard-cluster-serve-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ namespaces: { feed: { history: { size: 10_000, ttl: 600_000 }, publish: 'clients' } } }));
    const first = await startServe(['--port', '0', '--config', config, '--redis', cluster.url(0)]);
    serves.push(first);
    const second = await startServe(['--port', '0', '--config', config, '--redis', `redis://${cluster.nodes[4]!.address},${cluster.nodes[5]!.address}`]);
    serves.push(second);
  });
  after(async () => {
    for (const client of clients) client.close();
    await Promise.all(serves.map((serve) => serve.stop()));
    await cluster?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A guest client of `serve` (untyped: the test's own namespace). */
  async function connect(serve: ServeProcess, name: string): Promise<RealtimeClient> {
    const client = new RealtimeClient(`ws://127.0.0.1:${serve.port}/rt`, {
      data: { name, id: `test-${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}` },
      reconnect: { minDelay: 100, maxDelay: 1_000 },
      timeout: 10_000,
    });
    clients.push(client);
    const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    client.connect();
    await connected;
    return client;
  }

  it('two servers on different nodes exchange messages in a dozen channels spread over every master, in order, exactly once', async () => {
    assert.deepEqual(await Promise.all(serves.map((serve) => health(serve.port))), [200, 200]);
    const channels = spreadChannels(12);
    const owners = new Set<number>();
    for (const channel of channels) owners.add((await cluster.masterOfSlot(keySlot(`sb:{${channel}}:bus`))).port);
    assert.equal(owners.size, 3, 'the channels live on all three masters');
    const alice = await connect(serves[0]!, 'Alice');
    const bob = await connect(serves[1]!, 'Bob');
    const seen = new Map<RealtimeClient, Map<string, Array<PublicationEvent<unknown>>>>();
    for (const client of [alice, bob]) {
      const perChannel = new Map<string, Array<PublicationEvent<unknown>>>();
      seen.set(client, perChannel);
      for (const channel of channels) {
        const list: Array<PublicationEvent<unknown>> = [];
        perChannel.set(channel, list);
        client.subscribe(channel).on('publication', (publication) => list.push(publication));
      }
    }
    await Promise.all([alice, bob].flatMap((client) => channels.map((channel) => client.getSubscription(channel)!.ready())));
    const rounds = 10;
    await Promise.all(
      channels.map(async (channel) => {
        for (let round = 0; round < rounds; round += 1) {
          await (round % 2 === 0 ? alice : bob).publish(channel, { channel, round });
        }
      }),
    );
    const count = (client: RealtimeClient): number => [...seen.get(client)!.values()].reduce((sum, list) => sum + list.length, 0);
    await until(() => count(alice) === rounds * 12 && count(bob) === rounds * 12, 'every publication on both servers');
    await sleep(200);
    for (const client of [alice, bob]) {
      for (const channel of channels) {
        const list = seen.get(client)!.get(channel)!;
        assert.deepEqual(list.map((publication) => publication.offset), Array.from({ length: rounds }, (_, index) => index + 1), `${channel}: in order, once`);
        assert.deepEqual(list.map((publication) => (publication.data as { round: number }).round), Array.from({ length: rounds }, (_, index) => index));
      }
    }
  });

  it('a master killed under traffic: /healthz says the broker is down, then up; every client ends with every publication in order and once, or is told recovered: false', async () => {
    const channels = spreadChannels(6, '-failover');
    const victim = await cluster.masterOfSlot(keySlot(`sb:{${channels[0]}}:bus`));
    const heir = await cluster.replicaOf(victim);
    const reader = await connect(serves[0]!, 'Reader');
    const writer = await connect(serves[1]!, 'Writer');
    const seen = new Map<string, Array<PublicationEvent<unknown>>>();
    const subscribed = new Map<string, SubscribedEvent[]>();
    for (const channel of channels) {
      const list: Array<PublicationEvent<unknown>> = [];
      const events: SubscribedEvent[] = [];
      seen.set(channel, list);
      subscribed.set(channel, events);
      const subscription = reader.subscribe(channel);
      subscription.on('publication', (publication) => list.push(publication));
      subscription.on('subscribed', (event) => events.push(event));
    }
    await Promise.all(channels.map((channel) => reader.getSubscription(channel)!.ready()));
    const acked = new Map<string, number[]>(channels.map((channel) => [channel, []]));
    const uncertain = new Map<string, Set<number>>(channels.map((channel) => [channel, new Set()]));
    let running = true;
    let round = 0;
    const flow = (async () => {
      while (running) {
        await Promise.all(
          channels.map(async (channel) => {
            try {
              await writer.publish(channel, { round });
              acked.get(channel)!.push(round);
            } catch {
              // Refused while no master serves the slot, or the writer's connection was sent away (4000)
              // with the publish in flight: the publisher knows it may not have happened.
              uncertain.get(channel)!.add(round);
            }
          }),
        );
        round += 1;
        await sleep(10);
      }
    })();
    await until(() => round >= 10, 'publications before the failure');
    await victim.kill();
    await until(async () => (await health(serves[0]!.port)) === 503, 'healthz to report the broker down', 20_000);
    await cluster.promoted(heir);
    await until(async () => (await health(serves[0]!.port)) === 200, 'healthz to report the broker up again', 30_000);
    // The reader's server sent it away when its broker came back: publications continue until it has resubscribed everywhere.
    await until(() => channels.every((channel) => subscribed.get(channel)!.length >= 2), 'the reader to resubscribe');
    const resumed = round;
    await until(() => round >= resumed + 10, 'publications after the failover');
    running = false;
    await flow;
    await until(
      () => channels.every((channel) => seen.get(channel)!.some((publication) => (publication.data as { round: number }).round === acked.get(channel)!.at(-1))),
      'the last publication of every channel at the reader',
    );
    let told = 0;
    for (const channel of channels) {
      const rounds = seen.get(channel)!.map((publication) => (publication.data as { round: number }).round);
      assert.equal(new Set(rounds).size, rounds.length, `${channel}: nothing twice`);
      const offsets = seen.get(channel)!.map((publication) => publication.offset);
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `${channel}: in offset order`);
      // A publish whose outcome the writer could not know (its connection was sent away with it in flight)
      // may still run later — the cluster client retries it once a master serves the slot — so only the
      // acknowledged ones must keep the writer's order.
      const certain = rounds.filter((value) => !uncertain.get(channel)!.has(value));
      assert.deepEqual(certain, [...certain].sort((a, b) => a - b), `${channel}: acknowledged publications in order`);
      const notRecovered = subscribed.get(channel)!.some((event) => event.recovered === false);
      const onHeir = (await cluster.masterOfSlot(keySlot(`sb:{${channel}}:bus`))).port === heir.port;
      if (!onHeir) assert.equal(notRecovered, false, `${channel}: on a surviving master, the history is whole`);
      if (notRecovered) {
        told += 1;
        continue;
      }
      const known = rounds.filter((value) => !uncertain.get(channel)!.has(value));
      assert.deepEqual(known, acked.get(channel), `${channel}: every acknowledged publication, none missing (besides those whose publish failed)`);
    }
    console.log(`# serve on a cluster, master killed: ${told} of ${channels.length} channels told recovered: false`);
  });
});
