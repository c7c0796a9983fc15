// MemoryBroker: the Broker contract, plus what is particular to the
// single-process broker — synchronous delivery, its lifecycle checks, and
// bounded memory (idle streams are forgotten and start over in a new epoch).
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerUnavailableError, type BrokerEvents } from '../../../src/realtime/broker/broker.js';
import { MemoryBroker, type MemoryBrokerOptions } from '../../../src/realtime/broker/memory-broker.js';
import type { PresenceMember, Publication } from '../../../src/realtime/wire/messages.js';
import { runBrokerContract } from './contract.js';
import { decodePublication, decodePublications, publishValue } from './encoded-helpers.js';

runBrokerContract('MemoryBroker (contract)', async () => ({ broker: new MemoryBroker() }));

interface Seen {
  publications: Array<[string, Publication]>;
  joins: Array<[string, PresenceMember]>;
  leaves: Array<[string, PresenceMember]>;
}

/** Events that record what they are told. */
function recorder(): { events: BrokerEvents; seen: Seen } {
  const seen: Seen = { publications: [], joins: [], leaves: [] };
  const events: BrokerEvents = {
    publication: (channel, publication) => seen.publications.push([channel, decodePublication(publication)]),
    join: (channel, member) => seen.joins.push([channel, member]),
    leave: (channel, member) => seen.leaves.push([channel, member]),
  };
  return { events, seen };
}

/** A started MemoryBroker, closed after the test. */
async function started(t: TestContext, options?: MemoryBrokerOptions): Promise<{ broker: MemoryBroker; seen: Seen }> {
  const broker = new MemoryBroker(options);
  const { events, seen } = recorder();
  await broker.start(events);
  t.after(() => broker.close());
  return { broker, seen };
}

/** Resolves once `condition` holds; fails after `timeout` ms. */
async function until(condition: () => boolean, what: string, timeout = 3_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('MemoryBroker', () => {
  test('delivers a publication synchronously, before publish returns', async (t) => {
    const { broker, seen } = await started(t);
    await broker.subscribe('live');
    const pending = publishValue(broker, 'live', 'now');
    assert.equal(seen.publications.length, 1, 'delivered during the call');
    assert.deepEqual(seen.publications[0], ['live', { offset: 1, data: 'now' }]);
    assert.deepEqual(await pending, { offset: 1, data: 'now', epoch: (await broker.position('live')).epoch });
  });

  test('reading a channel creates no stream', async (t) => {
    const { broker } = await started(t);
    for (let i = 0; i < 1_000; i++) {
      await broker.position(`read-${i}`);
      await broker.history(`read-${i}`, { limit: 10 });
      await broker.history(`read-${i}`, { since: { offset: 3, epoch: 'e' } });
      await broker.presence(`read-${i}`);
    }
    assert.equal(broker.streamCount, 0);
  });

  test('reports joins and leaves synchronously too', async (t) => {
    const { broker, seen } = await started(t);
    await broker.subscribe('room');
    void broker.addPresence('room', { client: 'c1', user: 'u1' }, 1_000);
    assert.equal(seen.joins.length, 1);
    void broker.removePresence('room', 'c1');
    assert.deepEqual(seen.leaves, [['room', { client: 'c1', user: 'u1' }]]);
  });

  test('kept publications are the bytes published, shared and not copied', async (t) => {
    const { broker } = await started(t);
    const data = '{"kept":true}';
    await broker.publish('copy', { data }, { history: { size: 5 } });
    const [kept] = (await broker.history('copy')).publications;
    assert.equal(kept!.data, data);
    assert.deepEqual(decodePublications((await broker.history('copy')).publications), [{ offset: 1, data: { kept: true } }]);
  });

  test('without `since`, `complete` says whether the stream is kept from its first publication', async (t) => {
    const { broker } = await started(t);
    await publishValue(broker, 'whole', 1, { history: { size: 2 } });
    assert.equal((await broker.history('whole')).complete, true);
    await publishValue(broker, 'whole', 2, { history: { size: 2 } });
    assert.equal((await broker.history('whole', { limit: 1 })).complete, false, 'cut by the limit');
    await publishValue(broker, 'whole', 3, { history: { size: 2 } });
    assert.equal((await broker.history('whole')).complete, false, 'the first was trimmed');
    assert.equal((await broker.history('fresh')).complete, true, 'an empty stream is whole');
  });

  test('rejects calls before start, a second start, and calls after close', async () => {
    const broker = new MemoryBroker();
    await assert.rejects(publishValue(broker, 'x', 1), /not started/);
    await broker.start(recorder().events);
    await assert.rejects(broker.start(recorder().events), /already started/);
    await broker.close();
    await assert.rejects(publishValue(broker, 'x', 1), BrokerUnavailableError);
    await assert.rejects(broker.start(recorder().events), BrokerUnavailableError);
  });

  test('rejects bad retention, queries and ttls with a RangeError, changing nothing', async (t) => {
    const { broker } = await started(t);
    await assert.rejects(publishValue(broker, 'bad', 1, { history: { size: -1 } }), RangeError);
    await assert.rejects(publishValue(broker, 'bad', 1, { history: { size: 1.5 } }), RangeError);
    await assert.rejects(publishValue(broker, 'bad', 1, { history: { size: 3, ttl: -5 } }), RangeError);
    assert.equal((await broker.position('bad')).offset, 0, 'no offset was used');
    await assert.rejects(broker.history('bad', { limit: -1 }), RangeError);
    await assert.rejects(broker.history('bad', { since: { offset: -1, epoch: 'e' } }), RangeError);
    await assert.rejects(broker.addPresence('bad', { client: 'c', user: 'u' }, 0), RangeError);
    assert.throws(() => new MemoryBroker({ streamIdleTimeout: 0 }), RangeError);
  });

  test('a listener that throws does not stop later deliveries', async (t) => {
    const broker = new MemoryBroker();
    const delivered: number[] = [];
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    // node:test reports uncaught exceptions as failures; take them over for this test.
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    t.after(() => {
      process.off('uncaughtException', onUncaught);
      for (const listener of listeners) process.on('uncaughtException', listener);
      return broker.close();
    });
    await broker.start({
      publication: (_channel, publication) => {
        delivered.push(publication.offset);
        if (publication.offset === 1) throw new Error('listener bug');
      },
      join: () => {},
      leave: () => {},
    });
    await broker.subscribe('c');
    const first = await publishValue(broker, 'c', 'a');
    const second = await publishValue(broker, 'c', 'b');
    await sleep(20);
    assert.deepEqual([first.offset, second.offset], [1, 2]);
    assert.deepEqual(delivered, [1, 2]);
    assert.equal(uncaught.length, 1, 'the error surfaced');
    assert.match(String(uncaught[0]), /listener bug/);
  });

  describe('bounded memory', () => {
    test('forgets idle streams that keep nothing; the channel starts over in a new epoch', async (t) => {
      const { broker } = await started(t, { streamIdleTimeout: 100 });
      const epochs = new Map<string, string>();
      for (let i = 0; i < 500; i++) epochs.set(`ch${i}`, (await publishValue(broker, `ch${i}`, i)).epoch);
      await broker.position('only-read');
      await broker.history('only-read-history');
      assert.equal(broker.streamCount, 500, 'reads made no stream');
      await until(() => broker.streamCount === 0, 'every stream to be forgotten');
      const again = await broker.position('ch7');
      assert.deepEqual(again, { offset: 0, epoch: '' }, 'a forgotten stream is no stream');
      const reborn = await publishValue(broker, 'ch7', 'again');
      assert.notEqual(reborn.epoch, epochs.get('ch7'), 'a forgotten stream comes back in a new epoch');
      const stale = await broker.history('ch7', { since: { offset: 1, epoch: epochs.get('ch7')! } });
      assert.equal(stale.complete, false);
    });

    test('keeps streams that are used, subscribed, or keep publications without a ttl', async (t) => {
      // 'busy' is published to every 20 ms against an idle timeout of 500 ms, for three times that timeout.
      const { broker } = await started(t, { streamIdleTimeout: 500 });
      await broker.subscribe('subscribed');
      const subscribed = await publishValue(broker, 'subscribed', 1);
      const kept = await publishValue(broker, 'kept', 1, { history: { size: 10 } });
      await publishValue(broker, 'busy', 0);
      const busyEpoch = (await broker.position('busy')).epoch;
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        await publishValue(broker, 'busy', 1);
        await sleep(20);
      }
      assert.equal((await broker.position('busy')).epoch, busyEpoch, 'a stream in use stays');
      assert.equal(broker.streamCount, 3);
      assert.deepEqual(await broker.position('subscribed'), { offset: 1, epoch: subscribed.epoch });
      assert.deepEqual(await broker.position('kept'), { offset: 1, epoch: kept.epoch });
    });

    test('forgets a stream once its publications expired by ttl and it stayed idle', async (t) => {
      const { broker } = await started(t, { streamIdleTimeout: 100 });
      const published = Date.now();
      await publishValue(broker, 'fading', 1, { history: { size: 10, ttl: 1_500 } });
      await sleep(200);
      // Checked only while the publication is surely alive (a loaded machine may sleep much longer than asked).
      if (Date.now() - published < 1_400) assert.equal(broker.streamCount, 1, 'still kept: its publication has not expired');
      await until(() => broker.streamCount === 0, 'the stream to be forgotten after its history expired', 6_000);
    });

    test('an unsubscribed stream becomes forgettable', async (t) => {
      const { broker } = await started(t, { streamIdleTimeout: 50 });
      await broker.subscribe('leaving');
      await publishValue(broker, 'leaving', 1);
      await sleep(150);
      assert.equal(broker.streamCount, 1);
      await broker.unsubscribe('leaving');
      await until(() => broker.streamCount === 0, 'the unsubscribed stream to be forgotten');
    });

    test('frequent refreshes of many members keep presence exact', async (t) => {
      const { broker, seen } = await started(t);
      await broker.subscribe('crowd');
      for (let round = 0; round < 50; round++) {
        for (let i = 0; i < 200; i++) await broker.addPresence('crowd', { client: `c${i}`, user: `u${i % 20}` }, 60_000);
      }
      assert.equal((await broker.presence('crowd')).length, 200);
      assert.equal(seen.joins.length, 200);
      for (let i = 0; i < 200; i += 2) await broker.addPresence('crowd', { client: `c${i}`, user: `u${i % 20}` }, 50);
      await until(() => seen.leaves.length === 100, 'the shortened members to expire');
      assert.equal((await broker.presence('crowd')).length, 100);
      assert.ok(seen.leaves.every(([, member]) => Number(member.client.slice(1)) % 2 === 0));
    });

    test('close forgets everything and stops the expiry timer', async () => {
      const broker = new MemoryBroker();
      const { events, seen } = recorder();
      await broker.start(events);
      await broker.subscribe('room');
      await publishValue(broker, 'room', 1, { history: { size: 10 } });
      await broker.addPresence('room', { client: 'c1', user: 'u1' }, 50);
      await broker.close();
      assert.equal(broker.streamCount, 0);
      await sleep(150);
      assert.deepEqual(seen.leaves, []);
    });
  });
});
