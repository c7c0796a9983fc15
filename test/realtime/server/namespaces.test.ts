/** Channel names, namespaces and their defaults. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isValidChannelName, namespaceOf, Namespaces, personalUsers, resolveNamespace } from '../../../src/realtime/server/namespaces.js';

describe('namespaces', () => {
  test('channel names: 1 to 255 visible ASCII characters', () => {
    assert.equal(isValidChannelName('chat:lobby'), true);
    assert.equal(isValidChannelName('!~'), true);
    assert.equal(isValidChannelName('x'.repeat(255)), true);
    for (const bad of ['', 'x'.repeat(256), 'a b', 'tab\t', 'é', 'a\u007f']) assert.equal(isValidChannelName(bad), false, JSON.stringify(bad));
  });

  test('the namespace is the part before the first colon', () => {
    assert.equal(namespaceOf('chat:lobby:1'), 'chat');
    assert.equal(namespaceOf('lobby'), '');
    assert.equal(namespaceOf(':x'), '');
  });

  test('defaults: no history, no presence, subscribers publish, anonymous allowed, publisher info shown', () => {
    assert.deepEqual(resolveNamespace('', {}), {
      name: '',
      history: null,
      presence: false,
      joinLeave: false,
      publish: 'subscribers',
      anonymous: true,
      publisherInfo: true,
      personal: false,
      conflation: null,
      delta: false,
    });
    assert.equal(resolveNamespace('p', { presence: true }).joinLeave, true);
    assert.equal(resolveNamespace('p', { presence: true, joinLeave: false }).joinLeave, false);
    assert.deepEqual(resolveNamespace('h', { history: { size: 10, ttl: 5000 } }).history, { size: 10, ttl: 5000 });
    assert.equal(resolveNamespace('h', { history: { size: 0 } }).history, null);
    assert.throws(() => resolveNamespace('h', { history: { size: -1 } }), TypeError);
  });

  test('lookup by channel; unknown namespaces are undefined; only the default namespace by default', () => {
    const namespaces = new Namespaces({ '': {}, chat: { presence: true } });
    assert.equal(namespaces.of('chat:1')?.presence, true);
    assert.equal(namespaces.of('lobby')?.name, '');
    assert.equal(namespaces.of('other:1'), undefined);
    const defaults = new Namespaces();
    assert.equal(defaults.of('lobby')?.name, '');
    assert.equal(defaults.of('chat:1'), undefined);
    assert.throws(() => new Namespaces({ 'a:b': {} }), TypeError);
  });

  test('personal channels name their users after the first "#", comma-separated', () => {
    assert.deepEqual(personalUsers('notifications:#alice'), ['alice']);
    assert.deepEqual(personalUsers('dialog:#alice,bob'), ['alice', 'bob']);
    assert.deepEqual(personalUsers('dialog:#alice,,bob,'), ['alice', 'bob']);
    assert.deepEqual(personalUsers('notifications:#'), []);
    assert.deepEqual(personalUsers('notifications:alice'), []);
    assert.equal(resolveNamespace('n', { personal: true }).personal, true);
  });
});

describe('conflation and delta options', () => {
  test('conflation gets its defaults; bad options are refused', () => {
    const namespace = new Namespaces({ ticker: { conflation: { key: 'symbol' }, delta: true } }).of('ticker:x')!;
    assert.deepEqual(namespace.conflation, { key: 'symbol', maxKeys: 10_000, threshold: 64 * 1024 });
    assert.equal(namespace.delta, true);
    assert.throws(() => new Namespaces({ t: { conflation: { key: '' } } }), TypeError);
    assert.throws(() => new Namespaces({ t: { conflation: { key: 'k', maxKeys: 0 } } }), TypeError);
    assert.throws(() => new Namespaces({ t: { conflation: { key: 'k', threshold: 1.5 } } }), TypeError);
  });
});
