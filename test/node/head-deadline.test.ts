// The deadline of the request head: one sweep for all connections, in arrival order.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { headCheckInterval, HeadDeadlines } from '../../src/node/head-deadline.js';

describe('HeadDeadlines', () => {
  test('expires members still waiting after the timeout, in arrival order; not those deleted', async () => {
    const expired: string[] = [];
    const deadlines = new HeadDeadlines<string>(200, (member) => expired.push(member));
    deadlines.add('a');
    deadlines.add('b');
    deadlines.add('c');
    deadlines.delete('b');
    await sleep(100);
    deadlines.add('late');
    assert.deepEqual(expired, []);
    await sleep(100 + headCheckInterval(200) + 30);
    assert.deepEqual(expired, ['a', 'c']);
    assert.equal(deadlines.size, 1);
    await sleep(100 + headCheckInterval(200));
    assert.deepEqual(expired, ['a', 'c', 'late']);
    assert.equal(deadlines.size, 0);
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
