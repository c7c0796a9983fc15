// Helpers of the attack tests: servers on a free port (or a Unix socket),
// raw peers from chosen local addresses, a well-behaved client's echo round
// trip to prove that others keep being served, and memory readings.
import { once } from 'node:events';
import { connect, type NetConnectOpts } from 'node:net';
import type { TestContext } from 'node:test';
import WS from 'ws';
import { Opcode } from '../../src/protocol/frame.js';
import { computeAccept, generateKey } from '../../src/protocol/handshake.js';
import { WebSocketServer, type ServerOptions } from '../../src/node/server-index.js';
import { RawPeer, upgradeRequest, type RawFrame } from '../node/server-helpers.js';

export type Options = Omit<ServerOptions<undefined>, 'port' | 'server' | 'noServer'>;

/** A standalone echo server on a free port of 127.0.0.1, closed after the test. */
export async function startEcho(t: TestContext, options: Options = {}): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  t.after(() => wss.close({ timeout: 200 }));
  await wss.ready();
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return wss;
}

/**
 * A well-behaved client (the `ws` package) connects, sends a message, gets
 * it echoed and closes. Resolves the round trip's duration in ms; rejects
 * after `timeout` ms.
 */
export async function echoRoundTrip(url: string, timeout = 5000): Promise<number> {
  const client = new WS(url);
  const timer = setTimeout(() => client.terminate(), timeout);
  try {
    await once(client, 'open');
    const started = performance.now();
    const text = `echo ${Math.random()}`;
    const echoed = new Promise<void>((resolve) => {
      // Other messages (e.g. a broadcast it is also getting) are skipped.
      client.on('message', (data: Buffer) => data.length === text.length && data.toString() === text && resolve());
    });
    client.send(text);
    await echoed;
    return performance.now() - started;
  } finally {
    clearTimeout(timer);
    client.terminate();
  }
}

/** A raw TCP (or Unix socket) peer, connected. */
export async function rawConnect(options: NetConnectOpts): Promise<RawPeer> {
  const socket = connect(options);
  await once(socket, 'connect');
  return new RawPeer(socket);
}

/** A raw peer through the opening handshake (extra request headers in `headers`). */
export async function rawUpgrade(options: NetConnectOpts, headers: Record<string, string> = {}): Promise<RawPeer> {
  const peer = await rawConnect(options);
  const key = generateKey();
  peer.send(Buffer.from(upgradeRequest('/', { 'Sec-WebSocket-Key': key, ...headers })));
  const head = await peer.readHead();
  if (!head.startsWith('HTTP/1.1 101') || !head.includes(computeAccept(key))) throw new Error(`upgrade refused: ${head.split('\r\n')[0]}`);
  return peer;
}

/** The status of the response a raw request gets. */
export async function statusOf(options: NetConnectOpts, request: string): Promise<number> {
  const peer = await rawConnect(options);
  try {
    peer.send(Buffer.from(request));
    const head = await peer.readHead();
    return Number(head.split(' ')[1]);
  } finally {
    peer.destroy();
  }
}

/** Reads frames until a close frame; returns its code (1005 when empty). */
export async function closeCodeFrom(peer: RawPeer): Promise<{ code: number; reason: string; before: RawFrame[] }> {
  const before: RawFrame[] = [];
  for (;;) {
    const frame = await peer.frame();
    if (frame.opcode !== Opcode.CLOSE) {
      before.push(frame);
      continue;
    }
    const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
    return { code, reason: frame.payload.subarray(2).toString(), before };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident set size in MiB. */
export function rssMiB(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

/** Runs the garbage collector when the test runs with --expose-gc (no-op otherwise). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Raw DEFLATE of `size` zero bytes, produced in a stream (the zeros are never
 * in memory at once), without the final 00 00 ff ff that permessage-deflate
 * leaves out: a decompression bomb for the wire.
 */
export async function deflateBomb(size: number): Promise<Buffer> {
  const { createDeflateRaw, constants } = await import('node:zlib');
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < size; written += zeros.length) {
    if (!deflate.write(zeros.subarray(0, Math.min(zeros.length, size - written)))) await once(deflate, 'drain');
  }
  await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  deflate.close();
  const all = Buffer.concat(out);
  return all.subarray(0, all.length - 4);
}
