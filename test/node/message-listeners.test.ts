// 'message' listeners: one listener is called directly (not through emit), so check that every
// arrangement of listeners still sees what emit would give it: this, arguments, once, several, none,
// removal, and a connection made with EventEmitter.captureRejections on.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { test } from 'node:test';
import { Opcode } from '../../src/protocol/frame.js';
import { WebSocketServer, type ServerWebSocket } from '../../src/node/server-index.js';
import { clientFrame, RawPeer } from './server-helpers.js';

async function setup(t: { after: (fn: () => unknown) => void }): Promise<{ ws: ServerWebSocket; peer: RawPeer }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.after(() => wss.close({ timeout: 200 }));
  await wss.ready();
  const connected = once(wss, 'connection');
  const { peer } = await RawPeer.upgrade(wss.port);
  t.after(() => peer.destroy());
  const [ws] = (await connected) as [ServerWebSocket];
  return { ws, peer };
}

test('one listener gets this, the data and isBinary; a once listener fires once; several all fire in order', async (t) => {
  const { ws, peer } = await setup(t);
  const calls: string[] = [];
  const first = await new Promise<{ self: unknown; data: Buffer; binary: boolean; args: number }>((resolve) => {
    ws.on('message', function (this: unknown, data: Buffer, binary: boolean, ...rest: unknown[]) {
      resolve({ self: this, data, binary, args: 2 + rest.length });
    });
    peer.send(clientFrame(Opcode.BINARY, Buffer.from([1, 2, 3])));
  });
  assert.equal(first.self, ws);
  assert.deepEqual([...first.data], [1, 2, 3]);
  assert.equal(first.binary, true);
  assert.equal(first.args, 2);
  ws.removeAllListeners('message');

  ws.once('message', (data) => calls.push(`once ${data.toString()}`));
  ws.on('message', (data, binary) => calls.push(`on ${data.toString()} ${binary}`));
  ws.prependListener('message', (data) => calls.push(`first ${data.toString()}`));
  const done = new Promise<void>((resolve) => ws.on('message', (data) => data.toString() === 'b' && resolve()));
  peer.send(clientFrame(Opcode.TEXT, 'a'));
  peer.send(clientFrame(Opcode.TEXT, 'b'));
  await done;
  assert.deepEqual(calls, ['first a', 'once a', 'on a false', 'first b', 'on b false']);
});

test('with no listener left, messages are dropped without error', async (t) => {
  const { ws, peer } = await setup(t);
  const listener = (): void => assert.fail('removed listener called');
  ws.on('message', listener);
  ws.off('message', listener);
  peer.send(clientFrame(Opcode.TEXT, 'nobody'));
  const pong = once(ws, 'ping');
  peer.send(clientFrame(Opcode.PING, 'after'));
  await pong;
});

test('a connection made with EventEmitter.captureRejections on still has its rejected listener promises caught', async (t) => {
  const previous = EventEmitter.captureRejections;
  EventEmitter.captureRejections = true;
  let ws: ServerWebSocket;
  let peer: RawPeer;
  try {
    ({ ws, peer } = await setup(t));
  } finally {
    EventEmitter.captureRejections = previous;
  }
  const failed = once(ws, 'error');
  ws.on('message', async () => {
    throw new Error('from an async listener');
  });
  peer.send(clientFrame(Opcode.TEXT, 'x'));
  const [error] = (await failed) as [Error];
  assert.equal(error.message, 'from an async listener');
});
