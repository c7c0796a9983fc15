// A failover under traffic, checked from a subscriber's side: used on a
// Redis Cluster (a master killed, its replica takes over) and behind
// Sentinel (the master killed, the Sentinels promote the replica).
//
// The replica is frozen (SIGSTOP) while the master acknowledges a few rounds
// of publications, so the failover loses writes that subscribers already
// received — the case where a silent gap could happen. The checks: live
// deliveries in order and never doubled within an epoch, without a gap once
// the broker reported 'up' again; and for each channel, a client that saw
// the last publication before the failover either recovers every
// acknowledged publication from history, in order, once, or is told its
// history is gone (not complete, a new epoch).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrokerEvents } from '../../../src/realtime/broker/broker.js';
import type { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import { decodePublication, publishValue } from './encoded-helpers.js';

export interface Seen {
  /** Per channel: [offset, epoch, value] in arrival order. */
  publications: Map<string, Array<[number, string, unknown]>>;
  states: string[];
  relayed: string[];
  /** Per channel: how many publications had arrived when the broker last reported 'up'. */
  upAt: Map<string, number>;
}

export function recorder(): { events: BrokerEvents; seen: Seen } {
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

export async function until(condition: () => boolean, what: string, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}


/**
 * The broker reported each outage as 'down' then 'up', at least once, and
 * ended 'up'. (Under load a transient slot map during a move or a failover
 * may cost one more down/up round: conservative, never a hidden gap.)
 */
export function assertOutages(states: string[]): void {
  assert.ok(states.length >= 2 && states.length % 2 === 0, `down/up pairs: ${states.join(', ')}`);
  states.forEach((state, index) => assert.equal(state, index % 2 === 0 ? 'down' : 'up', `down/up pairs: ${states.join(', ')}`));
}

export interface FailoverScenario {
  channels: string[];
  subscriber: RedisBroker;
  sub: Seen;
  publisher: RedisBroker;
  /** Freezes the replica that will take over. */
  freeze(): void;
  /** Kills the master, thaws the replica, and resolves once the replica is the master. */
  failover(): Promise<void>;
}

export interface FailoverOutcome {
  /** Channels whose history the failover lost (their clients are told `recovered: false`). */
  lost: number;
  /** Channels recovered completely. */
  kept: number;
  /** Publishes that failed (rejected) during the failover. */
  failures: number;
  /** Acknowledged publications in all. */
  acknowledged: number;
  /** ms from the kill to the subscriber broker's 'up'. */
  outage: number;
}

export async function runFailover(scenario: FailoverScenario): Promise<FailoverOutcome> {
  const { channels, subscriber, sub, publisher } = scenario;
  // Acknowledged publications, per channel: [offset, epoch, value].
  const acked = new Map<string, Array<[number, string, unknown]>>(channels.map((channel) => [channel, []]));
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
  scenario.freeze();
  const frozenAt = counter;
  await until(() => counter >= frozenAt + 10, 'publications the replica never got');
  const killedAt = Date.now();
  await scenario.failover();
  await until(() => sub.states.includes('down') && sub.states.includes('up'), 'the subscriber broker to report down, then up', 30_000);
  const outage = Date.now() - killedAt;
  const afterFailover = counter;
  await until(() => counter >= afterFailover + 20, 'publications after the failover', 30_000);
  running = false;
  await flow;
  await sleep(300);

  assertOutages(sub.states);
  let lost = 0;
  let kept = 0;
  for (const channel of channels) {
    const live = sub.publications.get(channel) ?? [];
    // Within one epoch, live deliveries are in order and never doubled; once the broker said 'up'
    // again, without a gap. A gap is only possible while it said 'down'.
    const upAt = sub.upAt.get(channel) ?? 0;
    for (let index = 1; index < live.length; index += 1) {
      const [offset, epoch] = live[index]!;
      const [previousOffset, previousEpoch] = live[index - 1]!;
      if (epoch === previousEpoch) assert.ok(offset > previousOffset, `${channel}: ${offset} after ${previousOffset} in one epoch`);
      if (index > upAt) {
        // A new epoch numbers on from what survived, so it may repeat offsets of lost publications, never skip.
        if (epoch === previousEpoch) assert.equal(offset, previousOffset + 1, `${channel}: no gap after 'up'`);
        else assert.ok(offset <= previousOffset + 1, `${channel}: a new epoch does not skip offsets`);
      }
    }
    // What a client that saw the last live publication of the old epoch gets when it recovers.
    const oldEpoch = live[0]![1];
    const lastOld = live.filter(([, epoch]) => epoch === oldEpoch).at(-1)!;
    const recovery = await subscriber.history(channel, { since: { offset: lastOld[0], epoch: oldEpoch } });
    const final = acked.get(channel)!.at(-1)!;
    if (recovery.complete) {
      kept += 1;
      // Nothing of what it saw is gone: the history continues it to the last acknowledged publication.
      assert.equal(recovery.position.epoch, oldEpoch);
      const seenValues = live.filter(([, epoch]) => epoch === oldEpoch).map(([, , value]) => value);
      const all = [...seenValues, ...recovery.publications.map((publication) => decodePublication(publication).data)];
      const expected = acked.get(channel)!.filter(([, epoch]) => epoch === oldEpoch).map(([, , value]) => value);
      assert.deepEqual(all.slice(-expected.length), expected, `${channel}: every acknowledged publication, in order, once`);
      assert.equal(recovery.position.offset, final[0]);
    } else {
      lost += 1;
      assert.notEqual(recovery.position.epoch, oldEpoch, `${channel}: lost history shows as a new epoch, not as the same stream`);
      assert.equal(final[1], recovery.position.epoch, `${channel}: later publications are in the new epoch`);
    }
  }
  const acknowledged = [...acked.values()].reduce((sum, list) => sum + list.length, 0);
  return { lost, kept, failures, acknowledged, outage };
}
