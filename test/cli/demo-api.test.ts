// The demo apps' real-time API as `switchboard serve` runs it, through the
// Node SDK over real sockets: the schemas of every namespace clients publish
// in and of every method; `board.clear` and `board.snapshot` (the position
// after the last clear, read without the board's history); and boards and
// rooms whose history holds entries an older server stored before the
// schemas existed (through a shared redis-server).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RealtimeError } from '../../src/realtime/sdk/index.js';
import { isBoardEvent, isChatMessage, isCursorPosition, isTypingSignal } from '../../src/cli/apps/web/guards.js';
import { BOARD_HEIGHT, BOARD_WIDTH, MAX_BATCH_NUMBERS, MAX_CHAT_TEXT, type BoardEvent } from '../../src/cli/apps/web/api.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { requirePeer } from '../interop/peers.js';
import { gridBatch, HOSTILE_BOARD, storeHostileHistory, stroke } from './demo-helpers.js';
import { eventually, guest, startServe, type ServeProcess } from './serve-helpers.js';

const isInvalid = (error: RealtimeError): boolean => error.code === 'invalid_data';

/** What clients must not publish, per channel, with why. */
const REFUSED: Array<[channel: string, data: unknown, why: string]> = [
  ['chat:schemas', null, 'null'],
  ['chat:schemas', { text: { toString: 1 }, sent: 1 }, 'text not a string'],
  ['chat:schemas', { text: '', sent: 1 }, 'empty text'],
  ['chat:schemas', { text: 'x'.repeat(MAX_CHAT_TEXT + 1), sent: 1 }, 'text too long'],
  ['chat:schemas', { text: 'hi', sent: -1 }, 'negative time'],
  ['chat:schemas', { text: 'hi', sent: 1, extra: true }, 'unknown key'],
  ['typing:schemas', { typing: 'yes' }, 'typing not a boolean'],
  ['typing:schemas', [], 'an array'],
  ['board:schemas', { type: 'clear' }, 'a clear from a client (board.clear is the way)'],
  ['board:schemas', { ...stroke(0), points: [1, 2, 3] }, 'odd point count'],
  ['board:schemas', { ...stroke(0), points: Array.from({ length: MAX_BATCH_NUMBERS + 2 }, () => 5) }, 'too many points'],
  ['board:schemas', { ...stroke(0), points: [BOARD_WIDTH + 1, 5] }, 'x outside the board'],
  ['board:schemas', { ...stroke(0), points: [5, BOARD_HEIGHT + 1] }, 'y outside the board'],
  ['board:schemas', { ...stroke(0), color: 'red;background:url(x)' }, 'colour not #rrggbb'],
  ['board:schemas', { ...stroke(0), size: 1e9 }, 'brush too large'],
  ['board:schemas', { ...stroke(0), stroke: '<img>' }, 'bad stroke id'],
  ['board:schemas', { ...stroke(0), seq: 1.5 }, 'fractional seq'],
  ['cursor:schemas', { x: -1, y: 5 }, 'cursor off the board'],
  ['cursor:schemas', { x: 5 }, 'cursor without y'],
  ['cursor:schemas', { gone: false }, 'gone: false'],
];

/** What clients may publish: what the pages send. */
const ACCEPTED: Array<[channel: string, data: unknown]> = [
  ['chat:schemas', { text: 'x'.repeat(MAX_CHAT_TEXT), sent: Date.now() }],
  ['typing:schemas', { typing: false }],
  ['board:schemas', { ...stroke(3), points: Array.from({ length: MAX_BATCH_NUMBERS }, (_, i) => (i % 2 === 0 ? BOARD_WIDTH : BOARD_HEIGHT)) }],
  ['cursor:schemas', { x: 0, y: BOARD_HEIGHT }],
  ['cursor:schemas', { gone: true }],
];

describe('switchboard serve: the demo API', () => {
  let serve: ServeProcess;
  let dir: string;
  before(async () => {
    // Filling a board of 10,000 batches quickly needs more than 100 publications a second.
    dir = mkdtempSync(join(tmpdir(), 'switchboard-demo-api-'));
    writeFileSync(join(dir, 'serve.json'), JSON.stringify({ limits: { rate: { perSecond: 50_000, burst: 50_000, disconnectAfter: 50 } } }));
    serve = await startServe(['--port', '0', '--config', join(dir, 'serve.json')]);
  });
  after(async () => {
    await serve.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses publications that do not match the schema of their namespace, and accepts what the pages send', async () => {
    const { client } = await guest(serve.port, 'Schemer');
    for (const channel of new Set(REFUSED.map(([name]) => name))) await client.subscribe(channel as 'chat:x').ready();
    for (const [channel, data, why] of REFUSED) {
      await assert.rejects(client.getSubscription(channel as 'chat:x')!.publish(data as never), isInvalid, `${channel}: ${why} is refused`);
    }
    for (const [channel, data] of ACCEPTED) {
      await client.getSubscription(channel as 'chat:x')!.publish(data as never);
    }
    // Nothing refused was stored.
    const history = await client.history('board:schemas');
    assert.equal(history.publications.length, 1);
    const meta = client.subscribe('boardmeta:schemas');
    await meta.ready();
    await assert.rejects(meta.publish({ offset: 0, epoch: 'x' }), (error: RealtimeError) => error.code === 'forbidden', 'clients cannot write clear marks');
    client.close();
  });

  it('the pages accept everything the schemas accept', () => {
    const guards: Record<string, (data: unknown) => boolean> = { chat: isChatMessage, typing: isTypingSignal, board: isBoardEvent, cursor: isCursorPosition };
    for (const [channel, data] of ACCEPTED) assert.ok(guards[channel.split(':')[0]!]!(data), `${channel} ${JSON.stringify(data).slice(0, 60)}`);
    for (const [channel, data, why] of REFUSED) {
      // The server's own clears are board events; an unknown key is harmless to a page.
      if (why.startsWith('a clear') || why === 'unknown key') continue;
      assert.ok(!guards[channel.split(':')[0]!]!(data), `the pages skip ${channel}: ${why}`);
    }
  });

  it('refuses method params that do not match their schema', async () => {
    const { client } = await guest(serve.port, 'Caller');
    for (const params of [{ board: 5 }, { board: '../x' }, { board: 'x'.repeat(41) }, { board: 'ok', extra: 1 }, null]) {
      await assert.rejects(client.call('board.snapshot', params as never), isInvalid, `board.snapshot ${JSON.stringify(params)}`);
      await assert.rejects(client.call('board.clear', params as never), isInvalid, `board.clear ${JSON.stringify(params)}`);
    }
    client.close();
  });

  it('board.snapshot answers the position after the last board.clear; a late joiner recovers exactly the strokes after it', async () => {
    const { client } = await guest(serve.port, 'Painter');
    const fresh = await client.call('board.snapshot', { board: 'snap' });
    assert.equal(fresh.offset, 0, 'an empty board starts at its beginning');
    const board = client.subscribe('board:snap');
    await board.ready();
    await board.publish(stroke(0));
    const cleared = await client.call('board.clear', { board: 'snap' });
    await board.publish(stroke(1));
    const last = await board.publish(stroke(2));
    const snapshot = await client.call('board.snapshot', { board: 'snap' });
    assert.deepEqual(snapshot, { offset: cleared.offset, epoch: last.epoch });
    assert.ok(JSON.stringify(snapshot).length < 100, 'a position, not the events');

    const late = await guest(serve.port, 'Late');
    const seen: BoardEvent[] = [];
    const joined = late.client.subscribe('board:snap', { since: snapshot });
    joined.on('publication', ({ data }) => seen.push(data));
    const subscribed = new Promise<boolean | undefined>((resolve) => joined.once('subscribed', (event) => resolve(event.recovered)));
    assert.equal(await subscribed, true);
    await eventually(() => (seen.length >= 2 ? true : undefined), 5000, 'the replay');
    assert.deepEqual(seen, [stroke(1), stroke(2)]);
    // Everyone subscribed sees the clear as an event.
    const clearSeen = new Promise<BoardEvent>((resolve) => joined.on('publication', ({ data }) => data.type === 'clear' && resolve(data)));
    await client.call('board.clear', { board: 'snap' });
    assert.deepEqual(await clearSeen, { type: 'clear' });
    client.close();
    late.client.close();
  });

  it('board.snapshot of a board of 10,000 batches (~280 B each) is the same few bytes, and the connection stays', async () => {
    const { client } = await guest(serve.port, 'Filler');
    let disconnects = 0;
    client.on('disconnected', () => disconnects++);
    try {
      const board = client.subscribe('board:big');
      await board.ready();
      for (let i = 0; i < 10_000; i += 500) await Promise.all(Array.from({ length: 500 }, (_, k) => board.publish(gridBatch(i + k))));
      const snapshot = await client.call('board.snapshot', { board: 'big' });
      assert.deepEqual(Object.keys(snapshot).sort(), ['epoch', 'offset']);
      assert.equal(snapshot.offset, 0);
      assert.ok(Buffer.byteLength(JSON.stringify(snapshot)) < 64, `${JSON.stringify(snapshot)}`);
      assert.equal(disconnects, 0);
    } finally {
      client.close();
    }
  });
});

describe('switchboard serve: history written before the schemas (an older server on the same Redis)', () => {
  const redis = redisAvailability();
  const options = requirePeer('redis-server', redis.available, redis.reason);
  let store: RedisServer;
  let serve: ServeProcess;
  before(async () => {
    if (!redis.available) return;
    store = await RedisServer.start();
    await storeHostileHistory(store.url);
    serve = await startServe(['--port', '0', '--redis', store.url]);
  });
  after(async () => {
    if (!redis.available) return;
    await serve.stop();
    await store.stop();
  });

  it('board.snapshot answers for a board whose history holds null and junk', options, async () => {
    const { client } = await guest(serve.port, 'Viewer');
    const snapshot = await client.call('board.snapshot', { board: 'hostile' });
    assert.equal(snapshot.offset, 0);
    const seen: unknown[] = [];
    const board = client.subscribe('board:hostile', { since: snapshot });
    board.on('publication', ({ data }) => seen.push(data));
    await board.ready();
    await eventually(() => (seen.length >= HOSTILE_BOARD.length ? true : undefined), 5000, 'the replay');
    assert.deepEqual(seen.filter(isBoardEvent), [stroke(0, 'old')]);
    client.close();
  });
});

describe('switchboard serve: board.snapshot of a board whose oldest strokes expired', () => {
  const redis = redisAvailability();
  const redisOptions = requirePeer('redis-server', redis.available, redis.reason);
  /** The board keeps strokes 4 s here (a day in the demo). */
  const TTL = 4000;

  async function expiredBoard(extra: string[]): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-board-ttl-'));
    writeFileSync(join(dir, 'serve.json'), JSON.stringify({ namespaces: { board: { history: { size: 10_000, ttl: TTL } } } }));
    const serve = await startServe(['--port', '0', '--config', join(dir, 'serve.json'), ...extra]);
    const { client } = await guest(serve.port, 'Early');
    const late = await guest(serve.port, 'Late');
    try {
      const board = client.subscribe('board:ttl');
      await board.ready();
      // 100 strokes: more than a Redis publish trims once they expired (32), so expired ones stay in
      // its stream; a stroke half-way keeps the stream alive and is still kept at the end.
      await Promise.all(Array.from({ length: 100 }, (_, i) => board.publish(stroke(i, 'early'))));
      await new Promise((resolve) => setTimeout(resolve, TTL * 0.625));
      const kept = await board.publish(stroke(1));
      await new Promise((resolve) => setTimeout(resolve, TTL * 0.625));
      await board.publish(stroke(2));
      await board.publish(stroke(3));
      const snapshot = await late.client.call('board.snapshot', { board: 'ttl' });
      assert.equal(snapshot.offset, kept.offset - 1, 'just before the oldest stroke still kept');
      const seen: BoardEvent[] = [];
      const joined = late.client.subscribe('board:ttl', { since: snapshot });
      joined.on('publication', ({ data }) => seen.push(data));
      const recovered = await new Promise<boolean | undefined>((resolve) => joined.once('subscribed', (event) => resolve(event.recovered)));
      assert.equal(recovered, true, 'the late joiner recovers what is kept');
      await eventually(() => (seen.length >= 3 ? true : undefined), 5000, 'the replay');
      assert.deepEqual(seen, [stroke(1), stroke(2), stroke(3)]);
    } finally {
      client.close();
      late.client.close();
      await serve.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('with the memory broker: the position is just before the oldest stroke kept, and the late joiner recovers', async () => {
    await expiredBoard([]);
  });

  it('with Redis (expired entries still in its stream before the kept ones): the same', redisOptions, async () => {
    const store = await RedisServer.start();
    try {
      await expiredBoard(['--redis', store.url]);
    } finally {
      await store.stop();
    }
  });
});
