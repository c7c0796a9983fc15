/**
 * Measures what conflation and delta compression save, through real sockets
 * on loopback (docs/realtime.md quotes its output):
 *
 *   node --import tsx bench/conflation-delta.ts
 *
 * Conflation: a subscriber that reads nothing while 20,000 quotes of 200
 * instruments are published, then reads again — with `slowConsumer: 'drop'`
 * and no conflation, and with conflation on `symbol`. Counted: deliveries,
 * bytes received, instruments whose latest quote arrived.
 *
 * Delta: 5,000 order-book updates of 100 instruments to a plain and a delta
 * subscriber, with permessage-deflate off and on; counted: bytes read from
 * the socket (frames and their headers).
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { createRealtimeServer, type RealtimeServer, type RealtimeServerOptions } from '../src/realtime/server/index.js';
import { orderBookUpdates } from './feeds/order-book.js';

interface Reader {
  ws: WebSocket;
  socket: Socket;
  messages: Array<Record<string, unknown>>;
}

async function open(url: string, deflate: boolean, subscribe: Record<string, unknown>): Promise<Reader> {
  const ws = new WebSocket(url, ['switchboard.v1.json'], { perMessageDeflate: deflate });
  let socket: Socket | undefined;
  ws.on('upgrade', (response) => (socket = response.socket as Socket));
  const messages: Array<Record<string, unknown>> = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'connect', id: 1 }));
  ws.send(JSON.stringify({ type: 'subscribe', id: 2, ...subscribe }));
  await until(() => messages.some((message) => message.id === 2));
  return { ws, socket: socket!, messages };
}

async function until(check: () => boolean, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function serve(options: Omit<RealtimeServerOptions, 'port'>): Promise<{ server: RealtimeServer; url: string }> {
  const server = createRealtimeServer({ ...options, port: 0, host: '127.0.0.1' });
  await server.ready();
  return { server, url: `ws://127.0.0.1:${server.port}/` };
}

const publications = (reader: Reader): Array<Record<string, unknown>> => reader.messages.filter((message) => message.type === 'publication');

async function conflation(conflate: boolean): Promise<string> {
  const { server, url } = await serve({
    namespaces: { quotes: conflate ? { conflation: { key: 'symbol' } } : {} },
    limits: { maxQueuedBytes: 1024 * 1024, slowConsumer: 'drop', rate: false },
  });
  const reader = await open(url, false, { channel: 'quotes:all' });
  const start = reader.socket.bytesRead;
  reader.socket.pause();
  const latest = new Map<string, number>();
  const total = 20_000;
  for (let i = 0; i < total; i++) {
    const symbol = `SYM${String(i % 200).padStart(4, '0')}`;
    latest.set(symbol, i);
    await server.publish('quotes:all', { symbol, seq: i, bid: 100 + (i % 97) / 100, ask: 100.02 + (i % 97) / 100, volume: 1_000_000 + i, note: 'x'.repeat(120) });
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  reader.socket.resume();
  // Settle: nothing more arrives for 500 ms.
  let count = -1;
  while (count !== reader.messages.length) {
    count = reader.messages.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const received = publications(reader);
  const last = new Map<string, number>();
  let skipped = 0;
  for (const message of received) {
    const data = message.data as { symbol: string; seq: number };
    last.set(data.symbol, data.seq);
    skipped += (message.skipped as number | undefined) ?? 0;
  }
  const current = [...latest].filter(([symbol, seq]) => last.get(symbol) === seq).length;
  const bytes = reader.socket.bytesRead - start;
  reader.ws.terminate();
  await server.close();
  return `| ${conflate ? 'conflation on `symbol`' : "no conflation (`slowConsumer: 'drop'`)"} | ${total} | ${received.length} | ${(bytes / 1024 / 1024).toFixed(2)} MiB | ${conflate ? skipped : '—'} | ${current} of 200 |`;
}

async function delta(deflate: boolean): Promise<string> {
  const { server, url } = await serve({
    namespaces: { books: { conflation: { key: 'symbol' }, delta: true } },
    perMessageDeflate: deflate,
    limits: { rate: false },
  });
  const plain = await open(url, deflate, { channel: 'books:all' });
  const withDelta = await open(url, deflate, { channel: 'books:all', delta: true });
  const starts = [plain.socket.bytesRead, withDelta.socket.bytesRead];
  const total = 5000;
  for (const update of orderBookUpdates(total, 100, 11)) {
    await server.publish('books:all', update);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await until(() => publications(plain).length === total && publications(withDelta).length === total);
  const [plainBytes, deltaBytes] = [plain.socket.bytesRead - starts[0]!, withDelta.socket.bytesRead - starts[1]!];
  const deltas = publications(withDelta).filter((message) => typeof message.delta === 'number').length;
  plain.ws.terminate();
  withDelta.ws.terminate();
  await server.close();
  return `| ${deflate ? 'on' : 'off'} | ${total} | ${(plainBytes / 1024).toFixed(0)} KiB | ${(deltaBytes / 1024).toFixed(0)} KiB (${deltas} deltas) | ${((1 - deltaBytes / plainBytes) * 100).toFixed(1)}% |`;
}

console.log('| slow subscriber | published | delivered | bytes received | skipped (counted) | latest quote of each instrument |');
console.log('|---|---|---|---|---|---|');
console.log(await conflation(false));
console.log(await conflation(true));
console.log('');
console.log('| permessage-deflate | updates | plain subscriber | delta subscriber | saved |');
console.log('|---|---|---|---|---|');
console.log(await delta(false));
console.log(await delta(true));
