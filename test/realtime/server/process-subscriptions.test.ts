/** Broker subscriptions counted per channel, with broker calls of one channel in order. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Broker } from '../../../src/realtime/broker/broker.js';
import { ProcessSubscriptions } from '../../../src/realtime/server/process-subscriptions.js';

/** Records subscribe/unsubscribe calls; each resolves after `delay` ms, or fails while `failing`. */
function fakeBroker(delay: number): { broker: Broker; calls: string[]; failing: { value: boolean } } {
  const calls: string[] = [];
  const failing = { value: false };
  const step = (name: string) => async (channel: string): Promise<void> => {
    calls.push(`${name} ${channel}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (failing.value && name === 'subscribe') throw new Error('down');
  };
  const broker = { subscribe: step('subscribe'), unsubscribe: step('unsubscribe') } as unknown as Broker;
  return { broker, calls, failing };
}

describe('ProcessSubscriptions', () => {
  test('the first subscriber subscribes, the last unsubscribes, others share the wait', async () => {
    const { broker, calls } = fakeBroker(5);
    const subscriptions = new ProcessSubscriptions(broker, () => {});
    await Promise.all([subscriptions.acquire('a'), subscriptions.acquire('a')]);
    subscriptions.release('a');
    assert.deepEqual(calls, ['subscribe a']);
    subscriptions.release('a');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(calls, ['subscribe a', 'unsubscribe a']);
  });

  test('leave and come back quickly: unsubscribe then subscribe, in that order', async () => {
    const { broker, calls } = fakeBroker(5);
    const subscriptions = new ProcessSubscriptions(broker, () => {});
    await subscriptions.acquire('a');
    subscriptions.release('a');
    await subscriptions.acquire('a');
    assert.deepEqual(calls, ['subscribe a', 'unsubscribe a', 'subscribe a']);
  });

  test('a failed subscribe is tried again by the next subscriber', async () => {
    const { broker, calls, failing } = fakeBroker(1);
    const subscriptions = new ProcessSubscriptions(broker, () => {});
    failing.value = true;
    await assert.rejects(subscriptions.acquire('a'));
    failing.value = false;
    await subscriptions.acquire('a');
    assert.deepEqual(calls, ['subscribe a', 'subscribe a']);
  });
});
