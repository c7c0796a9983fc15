// The Broker contract as a reusable node:test suite: every Broker
// implementation (memory, Redis, ...) runs it through `runBrokerContract`.
// It uses nothing but the Broker interface and real time, and it never
// assumes that events arrive synchronously: it waits for them, and checks
// that something did NOT happen by waiting for a later marker event.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Broker, BrokerEvents, BrokerHistory, HistoryOptions } from '../../../src/realtime/broker/broker.js';
import type { PresenceMember, Publication, StreamPosition } from '../../../src/realtime/wire/messages.js';
import { decodePublication, decodePublications, publishValue } from './encoded-helpers.js';

/** Makes a fresh, unstarted broker; `cleanup` runs after the broker was closed. */
export type BrokerFactory = () => Promise<{ broker: Broker; cleanup?: () => Promise<void> }>;

/** One event a broker reported. */
type Recorded =
  | { kind: 'publication'; channel: string; publication: Publication }
  | { kind: 'join' | 'leave'; channel: string; member: PresenceMember }
  | { kind: 'relay'; target: string; message: string };

/** How long to wait for an event that must come. */
const EVENT_TIMEOUT = 5_000;
/** How long to wait, after a marker arrived, for events that must not come. */
const SETTLE = 100;

/** Records a broker's events and lets a test wait for them. */
class Recorder {
  readonly seen: Recorded[] = [];
  readonly events: BrokerEvents = {
    publication: (channel, publication) => this.seen.push({ kind: 'publication', channel, publication: decodePublication(publication) }),
    join: (channel, member) => this.seen.push({ kind: 'join', channel, member }),
    leave: (channel, member) => this.seen.push({ kind: 'leave', channel, member }),
    state: () => {},
    relay: (target, message) => this.seen.push({ kind: 'relay', target, message }),
  };

  /** The messages relayed to `target`, in arrival order. */
  relayed(target: string): string[] {
    const found: string[] = [];
    for (const event of this.seen) if (event.kind === 'relay' && event.target === target) found.push(event.message);
    return found;
  }

  /** The publications reported for `channel`, in arrival order. */
  publications(channel: string): Publication[] {
    const found: Publication[] = [];
    for (const event of this.seen) if (event.kind === 'publication' && event.channel === channel) found.push(event.publication);
    return found;
  }

  /** The members reported joining (or leaving) `channel`, in arrival order. */
  members(kind: 'join' | 'leave', channel: string): PresenceMember[] {
    const found: PresenceMember[] = [];
    for (const event of this.seen) if (event.kind === kind && event.channel === channel) found.push(event.member);
    return found;
  }

  /** Resolves once `condition` holds; fails the test after `timeout` ms. */
  async until(condition: () => boolean, what: string, timeout = EVENT_TIMEOUT): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!condition()) {
      if (Date.now() > deadline) assert.fail(`timed out after ${timeout} ms waiting for ${what}`);
      await sleep(5);
    }
  }
}

/** A started broker for one test, with its recorder and channel names of its own. */
interface Fixture {
  broker: Broker;
  recorder: Recorder;
  /** A channel name unique to this test. */
  channel(name: string): string;
  /**
   * Publishes to a subscribed marker channel and waits for it (plus a short
   * settle time), so that events published before it had every chance to arrive.
   */
  flush(): Promise<void>;
}

let runs = 0;
const runId = Math.random().toString(36).slice(2, 8);

/** Starts a broker from `makeBroker`, closed (and cleaned up) after the test. */
async function setup(t: TestContext, makeBroker: BrokerFactory): Promise<Fixture> {
  const { broker, cleanup } = await makeBroker();
  const recorder = new Recorder();
  t.after(async () => {
    await broker.close();
    await cleanup?.();
  });
  await broker.start(recorder.events);
  const prefix = `contract-${runId}-${++runs}-`;
  const channel = (name: string): string => prefix + name;
  const marker = channel('marker');
  let markers = 0;
  await broker.subscribe(marker);
  const flush = async (): Promise<void> => {
    const data = `marker ${++markers}`;
    await publishValue(broker, marker, data);
    await recorder.until(() => recorder.publications(marker).some((p) => p.data === data), 'the marker publication');
    await sleep(SETTLE);
  };
  return { broker, recorder, channel, flush };
}

/** Publishes `count` publications with data 1…count, one after the other. */
async function publishSeries(broker: Broker, channel: string, count: number, history?: HistoryOptions): Promise<Array<{ offset: number; epoch: string; data: unknown }>> {
  const results: Array<{ offset: number; epoch: string; data: unknown }> = [];
  for (let n = 1; n <= count; n++) results.push(await publishValue(broker, channel, { n }, history === undefined ? {} : { history }));
  return results;
}

/** The offsets of publications. */
function offsets(publications: ReadonlyArray<{ offset: number }>): number[] {
  return publications.map((publication) => publication.offset);
}

/** `from`, `from + 1`, … `to`. */
function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, index) => from + index);
}

/**
 * Asserts a history answer: its publications' offsets, position and (when
 * given) completeness. The contract defines `complete` only for queries with
 * `since`, so queries without it leave `complete` out.
 */
function assertHistory(history: BrokerHistory, expected: { offsets: number[]; complete?: boolean; position: StreamPosition }, what: string): void {
  assert.deepEqual(offsets(history.publications), expected.offsets, `${what}: offsets`);
  if (expected.complete !== undefined) assert.equal(history.complete, expected.complete, `${what}: complete`);
  assert.deepEqual(history.position, expected.position, `${what}: position`);
}

/** Members sorted by client id, for order-free comparison. */
function byClient(members: PresenceMember[]): PresenceMember[] {
  return [...members].sort((a, b) => (a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
}

/**
 * Registers the Broker contract as a node:test suite named `name`. Each test
 * makes its own broker with `makeBroker`, starts it, and closes it (then runs
 * `cleanup`) afterwards.
 */
export function runBrokerContract(name: string, makeBroker: BrokerFactory): void {
  describe(name, () => {
    describe('streams', () => {
      test('a fresh channel is at offset 0 with the epoch "" until its first publication creates the stream', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const first = await broker.position(channel('fresh'));
        assert.deepEqual(first, { offset: 0, epoch: '' });
        const read = await broker.history(channel('fresh'), { since: first, limit: 10 });
        assert.deepEqual(read, { publications: [], position: first, complete: true, truncated: false }, 'nothing to recover, nothing missed');
        assert.deepEqual(await broker.position(channel('fresh')), first, 'reading created no stream');
        const published = await publishValue(broker, channel('fresh'), 'one', { history: { size: 10 } });
        assert.equal(published.offset, 1);
        assert.ok(published.epoch.length > 0, 'the first publication creates an epoch');
        const recovered = await broker.history(channel('fresh'), { since: first });
        assert.deepEqual(offsets(recovered.publications), [1], 'a client at {0, ""} recovers from the first publication');
        assert.equal(recovered.complete, true);
        assert.deepEqual(recovered.position, { offset: 1, epoch: published.epoch });
        const foreign = await broker.history(channel('fresh'), { since: { offset: 1, epoch: '' } });
        assert.equal(foreign.complete, false, 'only offset 0 continues an epoch it never saw');
      });

      test('maxBytes pages a history: each page stops before the budget, the first publication always fits', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const ch = channel('paged');
        const results = [];
        for (let n = 1; n <= 20; n++) results.push(await publishValue(broker, ch, 'x'.repeat(98), { history: { size: 100 } }));
        const epoch = results[0]!.epoch;
        // Each publication is 100 bytes of JSON text.
        const page = await broker.history(ch, { since: { offset: 0, epoch }, maxBytes: 350 });
        assert.deepEqual(offsets(page.publications), [1, 2, 3]);
        assert.equal(page.truncated, true);
        assert.equal(page.complete, false);
        const tiny = await broker.history(ch, { since: { offset: 3, epoch }, maxBytes: 1 });
        assert.deepEqual(offsets(tiny.publications), [4], 'at least one');
        const seen: number[] = [];
        let since = { offset: 0, epoch };
        for (;;) {
          const next = await broker.history(ch, { since, maxBytes: 700 });
          seen.push(...offsets(next.publications));
          if (!next.truncated) {
            assert.equal(next.complete, true, 'the last page completes the recovery');
            break;
          }
          since = { offset: next.publications.at(-1)!.offset, epoch };
        }
        assert.deepEqual(seen, range(1, 20), 'paging gives each publication once, in order');
        const latest = await broker.history(ch, { limit: 10, maxBytes: 250 });
        assert.deepEqual(offsets(latest.publications), [11, 12], 'the latest ten, paged from their oldest');
        assert.equal(latest.truncated, true);
        const all = await broker.history(ch, { limit: 5 });
        assert.equal(all.truncated, false, 'a limit alone cuts older publications, none after the last');
      });

      test('data is kept and returned as the very bytes published, JSON or MessagePack', async (t) => {
        const { broker, recorder, channel } = await setup(t, makeBroker);
        const ch = channel('bytes');
        await broker.subscribe(ch);
        // A MessagePack bin16 of every byte value.
        const binary = Uint8Array.from([0xc5, 0x01, 0x00, ...Array.from({ length: 256 }, (_, index) => index)]);
        const packed = Uint8Array.of(0x82, 0xa1, 0x62, 0xc4, 0x02, 0x00, 0xff, 0xa1, 0x74, 0xa3, 0xe2, 0x82, 0xac);
        const text = '{"text":"caf\u00e9 ☕ 𝄞","n":1.5e300}';
        await broker.publish(ch, { data: packed, info: Uint8Array.of(0x80) }, { history: { size: 10 } });
        await broker.publish(ch, { data: text }, { history: { size: 10 } });
        await broker.publish(ch, { data: binary }, { history: { size: 10 } });
        const history = await broker.history(ch);
        assert.equal(history.publications.length, 3);
        assert.deepEqual(Buffer.from(history.publications[0]!.data as Uint8Array), Buffer.from(packed));
        assert.deepEqual(Buffer.from(history.publications[0]!.info as Uint8Array), Buffer.from([0x80]));
        assert.equal(history.publications[1]!.data, text);
        assert.equal(history.publications[1]!.info, undefined);
        assert.deepEqual(Buffer.from(history.publications[2]!.data as Uint8Array), Buffer.from(binary));
        await recorder.until(() => recorder.publications(ch).length === 3, 'three publications');
      });

      test('offsets start at 1 and advance by one without gaps, in one epoch', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const results = await publishSeries(broker, channel('series'), 20);
        assert.deepEqual(offsets(results), range(1, 20));
        assert.equal(new Set(results.map((r) => r.epoch)).size, 1, 'one epoch');
        assert.deepEqual(results.map((r) => r.data), range(1, 20).map((n) => ({ n })), 'the result carries the data');
        assert.deepEqual(await broker.position(channel('series')), { offset: 20, epoch: results[0]!.epoch });
      });

      test('concurrent publishes get distinct consecutive offsets', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const results = await Promise.all(range(1, 30).map((n) => publishValue(broker, channel('burst'), n)));
        assert.deepEqual(offsets(results).sort((a, b) => a - b), range(1, 30));
        assert.equal(new Set(results.map((r) => r.epoch)).size, 1);
      });

      test('publishes called one after the other, without waiting, take offsets in the order of the calls', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const calls = range(1, 40).map((n) => publishValue(broker, channel('calls'), n, { history: { size: 100 } }));
        const results = await Promise.all(calls);
        assert.deepEqual(offsets(results), range(1, 40));
        const history = await broker.history(channel('calls'));
        assert.deepEqual(decodePublications(history.publications).map((p) => p.data), range(1, 40));
      });

      test('each channel has a stream of its own', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        await publishSeries(broker, channel('a'), 3);
        const b = await publishValue(broker, channel('b'), 'b');
        assert.equal(b.offset, 1);
        assert.equal((await broker.position(channel('a'))).offset, 3);
      });

      test('without history nothing is kept, yet offsets advance', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const results = await publishSeries(broker, channel('bare'), 3);
        const position = { offset: 3, epoch: results[0]!.epoch };
        assertHistory(await broker.history(channel('bare')), { offsets: [], position }, 'latest');
        const since0 = await broker.history(channel('bare'), { since: { offset: 0, epoch: position.epoch } });
        assertHistory(since0, { offsets: [], complete: false, position }, 'since 0');
        const since3 = await broker.history(channel('bare'), { since: position });
        assertHistory(since3, { offsets: [], complete: true, position }, 'since the current position');
      });

      test('history keeps the latest `size` publications, oldest first', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const results = await publishSeries(broker, channel('kept'), 5, { size: 3 });
        const history = await broker.history(channel('kept'));
        assert.deepEqual(offsets(history.publications), [3, 4, 5]);
        assert.deepEqual(decodePublications(history.publications).map((p) => p.data), [{ n: 3 }, { n: 4 }, { n: 5 }]);
        assert.deepEqual(history.position, { offset: 5, epoch: results[0]!.epoch });
      });

      test('removeHistory forgets the kept publications but keeps the position; the stream goes on', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const results = await publishSeries(broker, channel('removed'), 3, { size: 10 });
        const position = { offset: 3, epoch: results[0]!.epoch };
        await broker.removeHistory(channel('removed'));
        assertHistory(await broker.history(channel('removed')), { offsets: [], position }, 'after removal');
        const since1 = await broker.history(channel('removed'), { since: { offset: 1, epoch: position.epoch } });
        assertHistory(since1, { offsets: [], complete: false, position }, 'a client that missed removed publications cannot recover');
        assert.deepEqual(await broker.position(channel('removed')), position);
        const next = await publishValue(broker, channel('removed'), { n: 4 }, { history: { size: 10 } });
        assert.deepEqual([next.offset, next.epoch], [4, position.epoch]);
        assertHistory(await broker.history(channel('removed')), { offsets: [4], position: { offset: 4, epoch: position.epoch } }, 'kept again');
        await broker.removeHistory(channel('never-published'));
        assert.deepEqual(await broker.position(channel('never-published')), { offset: 0, epoch: '' }, 'removing creates nothing');
      });

      test('data and publisher info are kept and delivered as published', async (t) => {
        const { broker, recorder, channel } = await setup(t, makeBroker);
        const ch = channel('info');
        await broker.subscribe(ch);
        const info = { client: 'c1', user: 'alice', info: { role: 'admin', tags: ['a', 'b'] } };
        const data = { text: 'hi', nested: { list: [1, 2.5, 'x', null, true] } };
        await publishValue(broker, ch, data, { history: { size: 10 }, info });
        await publishValue(broker, ch, 'anonymous', { history: { size: 10 } });
        await recorder.until(() => recorder.publications(ch).length === 2, 'both publications');
        const [first, second] = recorder.publications(ch);
        assert.deepEqual(first, { offset: 1, data, info });
        assert.deepEqual(second, { offset: 2, data: 'anonymous' });
        const history = await broker.history(ch);
        assert.deepEqual(decodePublications(history.publications), [
          { offset: 1, data, info },
          { offset: 2, data: 'anonymous' },
        ]);
      });

      test('`complete` is true exactly when every publication after `since` is returned', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const ch = channel('complete');
        const results = await publishSeries(broker, ch, 5, { size: 3 });
        const epoch = results[0]!.epoch;
        const position = { offset: 5, epoch };
        const since = async (offset: number): Promise<BrokerHistory> => broker.history(ch, { since: { offset, epoch } });
        assertHistory(await since(2), { offsets: [3, 4, 5], complete: true, position }, 'since 2 (all kept)');
        assertHistory(await since(4), { offsets: [5], complete: true, position }, 'since 4');
        assertHistory(await since(5), { offsets: [], complete: true, position }, 'since 5 (nothing missed)');
        for (const offset of [0, 1]) {
          const history = await since(offset);
          assert.equal(history.complete, false, `since ${offset}: publication 2 was trimmed`);
          assert.ok(history.publications.every((p) => p.offset > offset), `since ${offset}: only later publications`);
        }
      });

      test('`since` in another epoch or beyond the stream is never complete', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const ch = channel('foreign');
        const results = await publishSeries(broker, ch, 3, { size: 10 });
        const epoch = results[0]!.epoch;
        const other = await broker.history(ch, { since: { offset: 1, epoch: `${epoch}-other` } });
        assert.equal(other.complete, false, 'another epoch');
        assert.deepEqual(other.position, { offset: 3, epoch });
        const beyond = await broker.history(ch, { since: { offset: 7, epoch } });
        assert.equal(beyond.complete, false, 'an offset the stream never reached');
        assert.deepEqual(offsets(beyond.publications), []);
      });

      test('`limit` returns the latest without `since` and the oldest after `since`', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const ch = channel('limit');
        const results = await publishSeries(broker, ch, 6, { size: 10 });
        const epoch = results[0]!.epoch;
        const position = { offset: 6, epoch };
        assert.deepEqual(offsets((await broker.history(ch, { limit: 2 })).publications), [5, 6], 'the latest two');
        assert.deepEqual(offsets((await broker.history(ch)).publications), range(1, 6), 'all without a limit');
        const cut = await broker.history(ch, { since: { offset: 0, epoch }, limit: 2 });
        assertHistory(cut, { offsets: [1, 2], complete: false, position }, 'since 0, limit 2');
        const exact = await broker.history(ch, { since: { offset: 3, epoch }, limit: 3 });
        assertHistory(exact, { offsets: [4, 5, 6], complete: true, position }, 'since 3, limit 3');
        const roomy = await broker.history(ch, { since: { offset: 3, epoch }, limit: 100 });
        assertHistory(roomy, { offsets: [4, 5, 6], complete: true, position }, 'since 3, limit 100');
        const none = await broker.history(ch, { since: { offset: 6, epoch }, limit: 0 });
        assertHistory(none, { offsets: [], complete: true, position }, 'since 6, limit 0');
      });

      test('publications older than the history ttl are dropped; the epoch stays', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const ch = channel('ttl');
        // 'second' must still be there at the reads after the second sleep: 600 ms of slack for a loaded machine.
        const history = { size: 10, ttl: 1200 };
        const first = await publishValue(broker, ch, 'first', { history });
        const epoch = first.epoch;
        await sleep(800);
        await publishValue(broker, ch, 'second', { history });
        await sleep(600); // 'first' is ≥ 1,400 ms old, 'second' ≥ 600 ms
        const position = { offset: 2, epoch };
        assertHistory(await broker.history(ch), { offsets: [2], position }, 'latest after the first expired');
        const since0 = await broker.history(ch, { since: { offset: 0, epoch } });
        assert.equal(since0.complete, false, 'since 0: the first expired');
        const since1 = await broker.history(ch, { since: { offset: 1, epoch } });
        assertHistory(since1, { offsets: [2], complete: true, position }, 'since 1');
        await sleep(700); // 'second' is ≥ 1,300 ms old
        assertHistory(await broker.history(ch), { offsets: [], position }, 'latest after both expired');
        assert.equal((await broker.history(ch, { since: { offset: 1, epoch } })).complete, false, 'since 1: the second expired');
        const since2 = await broker.history(ch, { since: { offset: 2, epoch } });
        assertHistory(since2, { offsets: [], complete: true, position }, 'since 2: nothing was missed');
        const third = await publishValue(broker, ch, 'third', { history });
        assert.deepEqual({ offset: third.offset, epoch: third.epoch }, { offset: 3, epoch }, 'offsets go on in the same epoch');
      });
    });

    describe('fan-out', () => {
      test('publications of a subscribed channel arrive once each, in offset order', async (t) => {
        const { broker, recorder, channel } = await setup(t, makeBroker);
        const ch = channel('order');
        await broker.subscribe(ch);
        const results = await Promise.all(range(1, 50).map((n) => publishValue(broker, ch, { n }, { history: { size: 100 } })));
        await recorder.until(() => recorder.publications(ch).length >= 50, 'fifty publications');
        const received = recorder.publications(ch);
        assert.deepEqual(offsets(received), range(1, 50), 'in offset order, no duplicates');
        const sent = new Map(results.map((r) => [r.offset, r.data]));
        for (const publication of received) assert.deepEqual(publication.data, sent.get(publication.offset));
      });

      test('only subscribed channels are reported, and unsubscribe stops the reports', async (t) => {
        const { broker, recorder, channel, flush } = await setup(t, makeBroker);
        const ch = channel('filter');
        await publishValue(broker, ch, 'before');
        await flush();
        assert.deepEqual(recorder.publications(ch), [], 'nothing before subscribe');
        await broker.subscribe(ch);
        await publishValue(broker, ch, 'during');
        await recorder.until(() => recorder.publications(ch).length === 1, 'the publication while subscribed');
        await broker.unsubscribe(ch);
        await publishValue(broker, ch, 'after');
        await flush();
        assert.deepEqual(recorder.publications(ch).map((p) => p.data), ['during']);
      });

      test('subscribe and unsubscribe are idempotent', async (t) => {
        const { broker, recorder, channel, flush } = await setup(t, makeBroker);
        const ch = channel('twice');
        await broker.subscribe(ch);
        await broker.subscribe(ch);
        await publishValue(broker, ch, 'once');
        await flush();
        assert.deepEqual(recorder.publications(ch).map((p) => p.data), ['once'], 'one report per publication');
        await broker.unsubscribe(ch);
        await broker.unsubscribe(ch);
        await broker.unsubscribe(channel('never-subscribed'));
        await publishValue(broker, ch, 'unheard');
        await flush();
        assert.deepEqual(recorder.publications(ch).map((p) => p.data), ['once']);
      });
    });

    describe('presence', () => {
      const alice: PresenceMember = { client: 'c-alice', user: 'alice', info: { name: 'Alice' } };
      const bob: PresenceMember = { client: 'c-bob', user: 'bob' };

      test('a new member is reported with a join; adding it again refreshes it without a second join', async (t) => {
        const { broker, recorder, channel, flush } = await setup(t, makeBroker);
        const ch = channel('join');
        await broker.subscribe(ch);
        await broker.addPresence(ch, alice, 10_000);
        await recorder.until(() => recorder.members('join', ch).length === 1, "alice's join");
        assert.deepEqual(recorder.members('join', ch), [alice]);
        assert.deepEqual(await broker.presence(ch), [alice]);
        const updated = { ...alice, info: { name: 'Alice', away: true } };
        await broker.addPresence(ch, updated, 10_000);
        await flush();
        assert.equal(recorder.members('join', ch).length, 1, 'no second join');
        assert.deepEqual(await broker.presence(ch), [updated], 'the refresh updates the member');
      });

      test('removePresence reports a leave once; removing an absent member does nothing', async (t) => {
        const { broker, recorder, channel, flush } = await setup(t, makeBroker);
        const ch = channel('leave');
        await broker.subscribe(ch);
        await broker.addPresence(ch, alice, 10_000);
        await broker.addPresence(ch, bob, 10_000);
        await broker.removePresence(ch, alice.client);
        await recorder.until(() => recorder.members('leave', ch).length === 1, "alice's leave");
        await broker.removePresence(ch, alice.client);
        await broker.removePresence(ch, 'c-nobody');
        await flush();
        assert.deepEqual(recorder.members('leave', ch), [alice]);
        assert.deepEqual(await broker.presence(ch), [bob]);
      });

      test('presence lists every member with its info; channels are independent', async (t) => {
        const { broker, channel } = await setup(t, makeBroker);
        const alice2: PresenceMember = { client: 'c-alice-2', user: 'alice' };
        await broker.addPresence(channel('room1'), alice, 10_000);
        await broker.addPresence(channel('room1'), alice2, 10_000);
        await broker.addPresence(channel('room1'), bob, 10_000);
        await broker.addPresence(channel('room2'), alice, 10_000);
        assert.deepEqual(byClient(await broker.presence(channel('room1'))), byClient([alice, alice2, bob]));
        await broker.removePresence(channel('room2'), alice.client);
        assert.deepEqual(await broker.presence(channel('room2')), []);
        assert.equal((await broker.presence(channel('room1'))).length, 3, 'leaving room2 leaves room1 alone');
        assert.deepEqual(await broker.presence(channel('empty')), []);
      });

      test('joins and leaves of channels not subscribed are not reported, but presence is kept', async (t) => {
        const { broker, recorder, channel, flush } = await setup(t, makeBroker);
        const ch = channel('quiet');
        await broker.addPresence(ch, alice, 10_000);
        assert.deepEqual(await broker.presence(ch), [alice]);
        await broker.removePresence(ch, alice.client);
        await broker.subscribe(ch);
        await broker.unsubscribe(ch);
        await broker.addPresence(ch, bob, 10_000);
        await flush();
        assert.deepEqual(recorder.seen.filter((event) => event.kind !== 'relay' && event.channel === ch), []);
        assert.deepEqual(await broker.presence(ch), [bob]);
      });

      test('a member not refreshed within its ttl expires with a leave', async (t) => {
        const { broker, recorder, channel } = await setup(t, makeBroker);
        const ch = channel('expiry');
        await broker.subscribe(ch);
        const started = Date.now();
        await broker.addPresence(ch, alice, 200);
        await broker.addPresence(ch, bob, 60_000);
        await recorder.until(() => recorder.members('leave', ch).length === 1, "alice's expiry", 200 + EVENT_TIMEOUT);
        assert.ok(Date.now() - started >= 190, 'not before the ttl');
        assert.deepEqual(recorder.members('leave', ch), [alice]);
        assert.deepEqual(await broker.presence(ch), [bob]);
      });

      test('refreshing a member keeps it past its ttl', async (t) => {
        const { broker, recorder, channel } = await setup(t, makeBroker);
        const ch = channel('refresh');
        await broker.subscribe(ch);
        // A refresh every 100 ms against a ttl of 1,500 ms: a stall of the process
        // (or of Redis) would have to last over a second to drop alice.
        const until = Date.now() + 2_000;
        while (Date.now() < until) {
          await broker.addPresence(ch, alice, 1_500);
          await sleep(100);
        }
        assert.deepEqual(recorder.members('leave', ch), [], 'no leave while refreshed');
        assert.deepEqual(await broker.presence(ch), [alice]);
        assert.equal(recorder.members('join', ch).length, 1, 'one join');
        await recorder.until(() => recorder.members('leave', ch).length === 1, 'the leave once refreshes stop', 1_500 + EVENT_TIMEOUT);
        assert.deepEqual(await broker.presence(ch), []);
      });
    });

    describe('relay', () => {
      test('a message relayed to a target this process listens to arrives once, in order, and counts one process', async (t) => {
        const { broker, recorder, channel } = await setup(t, makeBroker);
        const target = channel('session-a');
        await broker.listen(target);
        const messages = range(1, 20).map((n) => JSON.stringify({ n, text: 'ünïcödé ✓' }));
        const reached: number[] = [];
        for (const message of messages) reached.push(await broker.relay(target, message));
        assert.deepEqual(reached, messages.map(() => 1), 'each relay reached one process');
        await recorder.until(() => recorder.relayed(target).length >= messages.length, 'the relayed messages');
        assert.deepEqual(recorder.relayed(target), messages, 'once each, in the order relayed, unchanged');
      });

      test('nobody listening: relay resolves 0 and nothing is reported; unlisten stops the reports; both are idempotent', async (t) => {
        const { broker, recorder, channel, flush } = await setup(t, makeBroker);
        const target = channel('session-b');
        assert.equal(await broker.relay(target, 'unheard'), 0, 'nobody listens yet');
        await broker.listen(target);
        await broker.listen(target);
        assert.equal(await broker.relay(target, 'heard'), 1, 'listening twice is listening once');
        await recorder.until(() => recorder.relayed(target).length === 1, 'the relayed message');
        await broker.unlisten(target);
        await broker.unlisten(target);
        await broker.unlisten(channel('never-listened'));
        assert.equal(await broker.relay(target, 'after unlisten'), 0);
        await flush();
        assert.deepEqual(recorder.relayed(target), ['heard']);
        assert.deepEqual(recorder.relayed(channel('other')), []);
      });

      test('relay targets and channels do not mix: a publication is not a relay and a relay is not a publication', async (t) => {
        const { broker, recorder, channel, flush } = await setup(t, makeBroker);
        const name = channel('same-name');
        await broker.subscribe(name);
        await broker.listen(name);
        await publishValue(broker, name, 'a publication');
        assert.equal(await broker.relay(name, 'a relay'), 1);
        await flush();
        assert.deepEqual(recorder.publications(name).map((p) => p.data), ['a publication']);
        assert.deepEqual(recorder.relayed(name), ['a relay']);
      });
    });

    describe('lifecycle', () => {
      test('close is idempotent; a closed broker rejects publishes and reports nothing', async (t) => {
        const { broker, recorder, channel } = await setup(t, makeBroker);
        const ch = channel('closing');
        await broker.subscribe(ch);
        await broker.addPresence(ch, { client: 'c1', user: 'u1' }, 100);
        await broker.close();
        await broker.close();
        const seenAtClose = recorder.seen.length;
        await assert.rejects(publishValue(broker, ch, 'too late'));
        await sleep(300);
        assert.equal(recorder.seen.length, seenAtClose, 'no event after close (not even an expiry)');
      });
    });
  });
}
