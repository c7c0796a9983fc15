/**
 * Bad input on the real-time protocol: publication data over
 * `limits.maxPublishSize` (limit_exceeded, measured as the client's codec
 * encodes it, JSON and MessagePack), and messages nested deeper than
 * `MAX_MESSAGE_DEPTH` (bad_request with an id, close 4500 without), which
 * could not be encoded again for subscribers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_MAX_PUBLISH_SIZE, resolveLimits } from '../../../src/realtime/server/options.js';
import { MAX_MESSAGE_DEPTH, nestsDeeperThan, parseClientMessage } from '../../../src/realtime/server/validate.js';
import { encodedBytes, encodeValue } from '../../../src/realtime/wire/encoded.js';
import { jsonCodec, msgpackCodec } from '../../../src/realtime/wire/codec.js';
import { MSGPACK_PROTOCOL, ReplyError, startServer, WireClient } from './wire-client.js';

/** The publish limit's measure: the data's bytes as the publisher's codec encodes it. */
function encodedSize(codec: { binary: boolean }, value: unknown): number {
  return encodedBytes(encodeValue(value, codec));
}

/** An array nested `depth` levels deep (1 = []). */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

describe('publish data', () => {
  test('a "__proto__" key anywhere is refused with invalid_data: MessagePack subscribers could not decode it', async () => {
    const { server, url } = await startServer({ namespaces: { '': { publish: 'clients', history: { size: 10 } } } });
    try {
      const { client } = await WireClient.connect(url);
      const reader = await WireClient.connect(url, {}, { protocols: [MSGPACK_PROTOCOL] });
      await reader.client.request('subscribe', { channel: 'room' });
      client.ws.send('{"type":"publish","id":99,"channel":"room","data":{"list":[{"__proto__":{"admin":true}}]}}');
      const refused = await client.waitFor(() => client.received.find((message) => message.type === 'reply' && message.id === 99));
      assert.equal((refused as { error?: { code: string } }).error?.code, 'invalid_data');
      await client.request('publish', { channel: 'room', data: { proto: '__proto__' } });
      const [push] = await reader.client.pushesOf((message) => message.type === 'publication', 1);
      assert.deepEqual((push as { data: unknown }).data, { proto: '__proto__' }, 'the MessagePack subscriber decodes what was published');
      await client.close();
      await reader.client.close();
    } finally {
      await server.close();
    }
  });
});

describe('publish size', () => {
  test('encodedSize is the size of the data alone in either codec', () => {
    for (const value of ['', 'héllo', 12, null, { a: [1, 2, { b: 'c' }] }, 'x'.repeat(300)]) {
      assert.equal(encodedSize(jsonCodec, value), Buffer.byteLength(JSON.stringify(value)), JSON.stringify(value));
      assert.equal(encodedSize(msgpackCodec, value), (msgpackCodec.encode(value as object) as Uint8Array).length, JSON.stringify(value));
    }
    assert.equal(resolveLimits().maxPublishSize, DEFAULT_MAX_PUBLISH_SIZE);
    assert.throws(() => resolveLimits({ maxPublishSize: 0 }), TypeError);
  });

  for (const protocol of ['switchboard.v1.json', MSGPACK_PROTOCOL]) {
    test(`data over maxPublishSize gets limit_exceeded, data at the limit is published (${protocol})`, async () => {
      const limit = 1000;
      const { server, url } = await startServer({ limits: { maxPublishSize: limit }, namespaces: { '': { publish: 'clients' } } });
      try {
        const { client } = await WireClient.connect(url, {}, { protocols: [protocol] });
        // A string of n ASCII characters encodes to n + 2 bytes in JSON ("…"), n + 3 in MessagePack (str16 header).
        const overhead = protocol === MSGPACK_PROTOCOL ? 3 : 2;
        const fits = 'a'.repeat(limit - overhead);
        const result = (await client.request('publish', { channel: 'room', data: fits })) as { offset: number };
        assert.equal(result.offset, 1);
        await assert.rejects(client.request('publish', { channel: 'room', data: `${fits}b` }), (error: unknown) => error instanceof ReplyError && error.code === 'limit_exceeded');
        // The connection stays usable.
        assert.equal(((await client.request('publish', { channel: 'room', data: 'small' })) as { offset: number }).offset, 2);
        await client.close();
      } finally {
        await server.close();
      }
    });
  }
});

describe('nesting depth', () => {
  test(`nestsDeeperThan counts objects and arrays, not bytes (MAX_MESSAGE_DEPTH = ${MAX_MESSAGE_DEPTH})`, () => {
    assert.equal(nestsDeeperThan(nested(3), 3), false);
    assert.equal(nestsDeeperThan(nested(4), 3), true);
    assert.equal(nestsDeeperThan({ a: { b: 'x'.repeat(1000) }, c: new Uint8Array(10) }, 2), false);
    // [ → { d → [ → { e → {}: five levels.
    assert.equal(nestsDeeperThan([{}, [[]], { d: [{ e: {} }] }], 5), false);
    assert.equal(nestsDeeperThan([{}, [[]], { d: [{ e: {} }] }], 4), true);
    // Iterative: a depth far beyond the stack is fine.
    assert.equal(nestsDeeperThan(nested(200_000), MAX_MESSAGE_DEPTH), true);
  });

  test('a message nested too deeply is refused: bad_request with a usable id, close without one', () => {
    const deep = parseClientMessage({ type: 'publish', id: 3, channel: 'a', data: nested(MAX_MESSAGE_DEPTH) });
    assert.deepEqual(deep, { ok: false, id: 3, reason: `nested more than ${MAX_MESSAGE_DEPTH} levels deep` });
    assert.equal(parseClientMessage({ type: 'publish', id: 3, channel: 'a', data: nested(MAX_MESSAGE_DEPTH - 1) }).ok, true);
    const noId = parseClientMessage({ type: 'send', data: nested(1000) });
    assert.equal(noId.ok === false && noId.id, undefined);
    const reply = parseClientMessage({ type: 'reply', id: 4, result: nested(1000) });
    assert.equal(reply.ok === false && reply.id, undefined);
  });

  test('end to end: a deep publish gets bad_request; what passes can be encoded for every subscriber', async () => {
    const { server, url } = await startServer({ namespaces: { '': { publish: 'clients', history: { size: 10 } } } });
    try {
      const { client } = await WireClient.connect(url);
      const { client: packed } = await WireClient.connect(url, {}, { protocols: [MSGPACK_PROTOCOL] });
      await packed.request('subscribe', { channel: 'room' });
      // The deepest data that passes: the publish message is level 1, its data level 2.
      const deepest = nested(MAX_MESSAGE_DEPTH - 1);
      await client.request('publish', { channel: 'room', data: deepest });
      // MessagePack subscribers receive it, and history (nested deeper still) can be read.
      const push = await packed.nextPush((message) => message.type === 'publication');
      assert.deepEqual((push as { data: unknown }).data, deepest);
      const history = (await client.request('history', { channel: 'room' })) as { publications: unknown[] };
      assert.equal(history.publications.length, 1);
      await assert.rejects(client.request('publish', { channel: 'room', data: nested(MAX_MESSAGE_DEPTH + 5) }), (error: unknown) => error instanceof ReplyError && error.code === 'bad_request');
      // Raw text: JSON.stringify itself cannot write data this deep.
      client.ws.send(`{"type":"send","data":${'['.repeat(5000)}${']'.repeat(5000)}}`);
      assert.equal((await client.closed).code, 4500);
      await packed.close();
    } finally {
      await server.close();
    }
  });
});
