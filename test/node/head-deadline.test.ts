// The deadline of the request head: one sweep for all connections, in arrival order.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { headCheckInterval, HeadDeadlines } from '../../src/node/head-deadline.js';

describe('HeadDeadlines', () => {
  test('expires members still waiting after the timeout, in arrival order, never before it; not those deleted', async () => {
    // Times are taken in the callback and compared with the times of `add`, so a
    // loaded machine (late timers) cannot make an early expiry look right or a
    // right one look early.
    const expired: Array<{ member: string; at: number }> = [];
    const added = new Map<string, number>();
    const deadlines = new HeadDeadlines<string>(200, (member) => expired.push({ member, at: performance.now() }));
    const add = (member: string): void => {
      added.set(member, performance.now());
      deadlines.add(member);
    };
    add('a');
    add('b');
    add('c');
    deadlines.delete('b');
    await sleep(100);
    add('late');
    for (const until = Date.now() + 5000; deadlines.size > 0 && Date.now() < until; ) await sleep(10);
    assert.deepEqual(expired.map(({ member }) => member), ['a', 'c', 'late']);
    for (const { member, at } of expired) {
      const waited = at - added.get(member)!;
      assert.ok(waited >= 200, `${member} expired after ${waited.toFixed(1)} ms`);
      assert.ok(waited < 200 + headCheckInterval(200) + 2000, `${member} expired only after ${waited.toFixed(1)} ms`);
    }
    await sleep(2 * headCheckInterval(200));
    assert.equal(expired.length, 3, 'b was deleted; nothing expires twice');
  });

  test('a timeout of 0 never expires; drain hands back the waiting members', async () => {
    const expired: string[] = [];
    const deadlines = new HeadDeadlines<string>(0, (member) => expired.push(member));
    deadlines.add('a');
    deadlines.add('b');
    await sleep(120);
    assert.deepEqual(expired, []);
    assert.deepEqual(deadlines.drain(), ['a', 'b']);
    assert.equal(deadlines.size, 0);
  });

  test('checked every quarter of the timeout, between 50 ms and 1 s', () => {
    assert.equal(headCheckInterval(100), 50);
    assert.equal(headCheckInterval(2000), 500);
    assert.equal(headCheckInterval(10_000), 1000);
  });
});
