// Which transport the client's next attempt uses: the preferred one first, the
// next one at once after a failure before anything came back, the fallback
// kept across reconnects for `retryAfter`, then the preferred one again.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTransports, TransportChoice } from '../../../src/realtime/sdk/transport-choice.js';

function choice(retryAfter = 1000): { choice: TransportChoice; clock: { now: number } } {
  const clock = { now: 0 };
  return { choice: new TransportChoice(['websocket', 'http'], retryAfter, () => clock.now), clock };
}

describe('TransportChoice', () => {
  it('starts with WebSocket and stays on it while it works', () => {
    const { choice: c } = choice();
    assert.equal(c.next(), 'websocket');
    c.succeeded('websocket');
    assert.equal(c.next(), 'websocket');
  });

  it('falls back at once after a WebSocket failure, and keeps HTTP across reconnects until retryAfter', () => {
    const { choice: c, clock } = choice();
    assert.equal(c.failed('websocket'), true, 'the next attempt comes at once');
    assert.equal(c.next(), 'http');
    c.succeeded('http');
    clock.now = 999;
    assert.equal(c.failed('http'), false, 'a failed HTTP attempt waits for the backoff');
    assert.equal(c.next(), 'http', 'the fallback is remembered');
    clock.now = 1000;
    assert.equal(c.next(), 'websocket', 'then WebSocket is tried again');
    assert.equal(c.failed('websocket'), true);
    assert.equal(c.next(), 'http');
    c.succeeded('http');
    clock.now = 1999;
    assert.equal(c.next(), 'http', 'and the fallback is kept for another period');
    clock.now = 2000;
    c.succeeded('websocket');
    clock.now = 2001;
    assert.equal(c.next(), 'websocket', 'a WebSocket that works ends the fallback');
  });

  it('goes back to WebSocket after both failed (the server was down, not the WebSocket blocked)', () => {
    const { choice: c } = choice();
    c.failed('websocket');
    assert.equal(c.next(), 'http');
    assert.equal(c.failed('http'), false);
    assert.equal(c.next(), 'websocket');
  });

  it('with one transport there is nothing to fall back to', () => {
    const c = new TransportChoice(['http'], 1000, () => 0);
    assert.equal(c.hasAlternative('http'), false);
    assert.equal(c.failed('http'), false);
    assert.equal(c.next(), 'http');
  });

  it('checks the option', () => {
    assert.deepEqual(checkTransports(['http', 'websocket']), ['http', 'websocket']);
    assert.throws(() => checkTransports([]), RangeError);
    assert.throws(() => checkTransports(['websocket', 'websocket']), RangeError);
    assert.throws(() => checkTransports(['sse']), RangeError);
  });
});
