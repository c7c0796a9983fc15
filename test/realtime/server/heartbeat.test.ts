// The protocol heartbeat's rounds (docs/protocol.md §6), on Node's mocked
// timers: which members are timed out at each check, and when.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { ProtocolHeartbeat, type HeartbeatMember } from '../../../src/realtime/server/heartbeat.js';
import { jsonCodec } from '../../../src/realtime/wire/codec.js';

const PING = 1000;
const PONG = 400;

interface FakeMember extends HeartbeatMember {
  pings: number;
  timedOutAt: number | null;
  queued: number;
}

function member(): FakeMember {
  const fake: FakeMember = {
    ws: null,
    codec: jsonCodec,
    sendMark: 0,
    unansweredRound: 0,
    pings: 0,
    timedOutAt: null,
    queued: 0,
    link: {
      remoteAddress: '127.0.0.1',
      readyState: 1,
      OPEN: 1,
      get bufferedAmount() {
        return fake.queued;
      },
      send: () => 'sent',
      close: () => undefined,
    },
    push: () => undefined,
    pushPayload: () => {
      fake.pings++;
      return true;
    },
    overflowed: () => undefined,
    heartbeatTimeout: () => {
      fake.timedOutAt = Date.now();
    },
  };
  return fake;
}

/**
 * Advances the mocked clock in steps, so that timers armed by a timer that
 * fires on the way (the check armed by each ping) fire too.
 */
function advance(ms: number): void {
  for (let left = ms; left > 0; left -= Math.min(left, 50)) mock.timers.tick(Math.min(left, 50));
}

/** The session's side of a pong. */
function answer(fake: FakeMember): void {
  fake.unansweredRound = 0;
}

describe('ProtocolHeartbeat', () => {
  let heartbeat: ProtocolHeartbeat;
  beforeEach(() => {
    mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'] });
    heartbeat = new ProtocolHeartbeat(PING, PONG);
    heartbeat.start();
  });
  afterEach(() => {
    heartbeat.stop();
    mock.timers.reset();
  });

  test('pings every `ping` ms; a member that answers stays; one that does not is timed out `pong` ms after the ping', () => {
    const answering = member();
    const silent = member();
    heartbeat.add(answering);
    heartbeat.add(silent);
    advance(PING);
    assert.deepEqual([answering.pings, silent.pings], [1, 1]);
    answer(answering);
    advance(PONG - 1);
    assert.equal(silent.timedOutAt, null, 'not before `pong` ms');
    advance(1);
    assert.equal(silent.timedOutAt, PING + PONG);
    for (let round = 2; round <= 4; round++) {
      advance(round === 2 ? PING - PONG : PING);
      assert.equal(answering.pings, round);
      answer(answering);
    }
    assert.equal(answering.timedOutAt, null);
    assert.equal(silent.pings, 1, 'a timed-out member is no longer pinged');
  });

  test('a late member with bytes still queued gets one more round: timed out at the next check if it still has not answered', () => {
    const behind = member();
    heartbeat.add(behind);
    behind.queued = 64 * 1024; // the ping waits behind a slow link's queue
    advance(PING + PONG);
    assert.equal(behind.timedOutAt, null, 'bytes were still queued: one more round');
    advance(PING);
    assert.equal(behind.timedOutAt, 2 * PING + PONG, 'still no answer at the next check: timed out, queue or not');
  });

  test('a member that answers within its extra round is kept, and gets a new grace later', () => {
    const behind = member();
    heartbeat.add(behind);
    behind.queued = 1;
    advance(PING + PONG);
    advance(PONG); // the ping reached it late; it answers
    answer(behind);
    advance(PING - PONG); // the next ping's check: late again, bytes queued, graced again
    assert.equal(behind.timedOutAt, null);
    answer(behind);
    // Later, late again with bytes queued: a new grace, not a close.
    advance(PING);
    assert.equal(behind.timedOutAt, null);
    advance(PING);
    assert.equal(behind.timedOutAt, 4 * PING + PONG);
  });

  test('with nothing queued there is no grace', () => {
    const idle = member();
    heartbeat.add(idle);
    idle.queued = 0;
    advance(PING + PONG);
    assert.equal(idle.timedOutAt, PING + PONG);
  });
});
