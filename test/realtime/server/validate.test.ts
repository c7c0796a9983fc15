/**
 * Client message validation: typed messages out of decoded objects, and
 * which failures keep an id (bad_request reply) and which do not (close 4500).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCommandId, parseClientMessage, parsePosition } from '../../../src/realtime/server/validate.js';

describe('parseClientMessage', () => {
  test('valid commands become typed messages (unknown fields dropped)', () => {
    assert.deepEqual(parseClientMessage({ type: 'connect', id: 1, token: 't', data: { a: 1 }, name: 'n', version: 'v', extra: 1 }), {
      ok: true,
      message: { type: 'connect', id: 1, token: 't', data: { a: 1 }, name: 'n', version: 'v' },
    });
    assert.deepEqual(parseClientMessage({ type: 'subscribe', id: 2, channel: 'a', since: { offset: 3, epoch: 'e' } }), {
      ok: true,
      message: { type: 'subscribe', id: 2, channel: 'a', since: { offset: 3, epoch: 'e' }, data: undefined },
    });
    assert.deepEqual(parseClientMessage({ type: 'publish', id: 3, channel: 'a', data: null }), { ok: true, message: { type: 'publish', id: 3, channel: 'a', data: null } });
    assert.deepEqual(parseClientMessage({ type: 'history', id: 4, channel: 'a', limit: 0 }), {
      ok: true,
      message: { type: 'history', id: 4, channel: 'a', since: undefined, limit: 0 },
    });
    assert.deepEqual(parseClientMessage({ type: 'call', id: 5, method: 'm' }), { ok: true, message: { type: 'call', id: 5, method: 'm', data: undefined } });
    assert.deepEqual(parseClientMessage({ type: 'presence_stats', id: 6, channel: 'a' }), { ok: true, message: { type: 'presence_stats', id: 6, channel: 'a' } });
    assert.deepEqual(parseClientMessage({ type: 'pong' }), { ok: true, message: { type: 'pong' } });
    assert.deepEqual(parseClientMessage({ type: 'send', data: 7 }), { ok: true, message: { type: 'send', data: 7 } });
  });

  test('replies to server calls: result or {code, message} error', () => {
    assert.deepEqual(parseClientMessage({ type: 'reply', id: 9, result: null }), { ok: true, message: { type: 'reply', id: 9, result: null } });
    assert.deepEqual(parseClientMessage({ type: 'reply', id: 9, error: { code: 'x', message: 'y', data: 1 } }), {
      ok: true,
      message: { type: 'reply', id: 9, error: { code: 'x', message: 'y', data: 1 } },
    });
    for (const bad of [{ type: 'reply', id: 9 }, { type: 'reply', result: 1 }, { type: 'reply', id: 9, error: { code: 1 } }]) {
      const parsed = parseClientMessage(bad);
      assert.equal(parsed.ok, false);
      assert.equal(parsed.ok === false && parsed.id, undefined, JSON.stringify(bad));
    }
  });

  test('a malformed command with a valid id keeps the id (→ bad_request)', () => {
    const cases: Array<Record<string, unknown>> = [
      { type: 'teleport', id: 1 },
      { type: 'subscribe', id: 1 },
      { type: 'subscribe', id: 1, channel: 'a', since: { offset: -1, epoch: 'e' } },
      { type: 'publish', id: 1, channel: 'a' },
      { type: 'refresh', id: 1 },
      { type: 'call', id: 1, method: '' },
      { type: 'history', id: 1, channel: 'a', limit: 1.5 },
      { type: 'connect', id: 1, token: 5 },
      { type: 7, id: 1 },
    ];
    for (const fields of cases) {
      const parsed = parseClientMessage(fields);
      assert.equal(parsed.ok, false, JSON.stringify(fields));
      assert.equal(parsed.ok === false && parsed.id, 1, JSON.stringify(fields));
    }
  });

  test('without a usable id there is nothing to answer (→ close 4500)', () => {
    for (const fields of [{}, { type: 'teleport' }, { type: 'subscribe', channel: 'a' }, { type: 'subscribe', id: 0, channel: 'a' }, { type: 'subscribe', id: '1', channel: 'a' }, { type: 'subscribe', id: 2 ** 53, channel: 'a' }]) {
      const parsed = parseClientMessage(fields);
      assert.equal(parsed.ok, false);
      assert.equal(parsed.ok === false && parsed.id, undefined, JSON.stringify(fields));
    }
  });

  test('ids and positions', () => {
    assert.equal(isCommandId(1), true);
    assert.equal(isCommandId(Number.MAX_SAFE_INTEGER), true);
    assert.equal(isCommandId(0), false);
    assert.equal(isCommandId(1.5), false);
    assert.equal(isCommandId(Number.MAX_SAFE_INTEGER + 1), false);
    assert.deepEqual(parsePosition({ offset: 0, epoch: '' }), { offset: 0, epoch: '' });
    assert.equal(parsePosition({ offset: 1 }), undefined);
    assert.equal(parsePosition(null), undefined);
  });
});
