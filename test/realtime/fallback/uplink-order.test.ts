// The order of a fallback session's uplink batches, and the relay messages
// that carry batches and ends between processes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeRelay, encodeRelay, type RelayMessage } from '../../../src/realtime/server/fallback/http-relay.js';
import { MAX_WAITING_BATCHES, UplinkOrder } from '../../../src/realtime/server/fallback/uplink-order.js';

describe('UplinkOrder', () => {
  it('releases batches in order, each once', () => {
    const order = new UplinkOrder<string>(1000, () => assert.fail('not broken'));
    assert.deepEqual(order.accept(1, 'a'), ['a']);
    assert.deepEqual(order.accept(3, 'c'), []);
    assert.deepEqual(order.accept(4, 'd'), []);
    assert.deepEqual(order.accept(3, 'c again'), [], 'a repeat of a waiting batch');
    assert.deepEqual(order.accept(2, 'b'), ['b', 'c', 'd']);
    assert.deepEqual(order.accept(2, 'b again'), [], 'a repeat of a released batch');
    assert.equal(order.expected, 5);
    order.stop();
  });

  it('is broken when a missing batch does not come in time', async () => {
    const reasons: string[] = [];
    const order = new UplinkOrder<string>(50, (reason) => reasons.push(reason));
    order.accept(2, 'b');
    await sleep(80);
    assert.deepEqual(reasons, ['uplink request 1 missing']);
  });

  it('counts the bytes of the batches that wait', () => {
    const order = new UplinkOrder<string>(10_000, () => assert.fail('not broken'));
    order.accept(3, 'c', 300);
    order.accept(4, 'd', 400);
    order.accept(4, 'd again', 400);
    assert.equal(order.waitingBytes, 700);
    assert.deepEqual(order.accept(1, 'a', 100), ['a']);
    assert.equal(order.waitingBytes, 700);
    assert.deepEqual(order.accept(2, 'b', 200), ['b', 'c', 'd']);
    assert.equal(order.waitingBytes, 0);
    order.stop();
  });

  it('is broken when too many batches wait', () => {
    const reasons: string[] = [];
    const order = new UplinkOrder<number>(10_000, (reason) => reasons.push(reason));
    for (let seq = 2; seq <= MAX_WAITING_BATCHES + 2; seq++) order.accept(seq, seq);
    assert.deepEqual(reasons, ['too many uplink requests out of order']);
    order.stop();
  });
});

describe('relay messages', () => {
  it('round-trip', () => {
    const messages: RelayMessage[] = [
      { kind: 'send', seq: 3, ack: 17, body: '[{"type":"pong"},{"type":"send","data":{"x":[1]}}]' },
      { kind: 'send', seq: 1, ack: undefined, body: '[]' },
      { kind: 'gone', code: 1000, reason: 'client closed' },
      { kind: 'close', code: 1009, reason: 'message too big' },
    ];
    for (const message of messages) assert.deepEqual(decodeRelay(encodeRelay(message)), message);
  });

  it('malformed ones are ignored', () => {
    for (const text of ['', 'null', '[]', '{"t":"x"}', '{"t":"s","s":-1,"d":"[]"}', '{"t":"s","s":1,"d":[]}', '{"t":"s","s":1}', '{"t":"s","s":1,"a":-2,"d":"[]"}', '{"t":"g","c":"x","r":""}']) {
      assert.equal(decodeRelay(text), undefined, text);
    }
  });
});
