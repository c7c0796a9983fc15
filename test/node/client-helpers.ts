/**
 * Test peers and small awaitables for the client tests: a `ws` echo server,
 * a raw `net` server for byte-level handshakes and frames, and promises for
 * client events. Everything started here has a `close()` that releases it.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type ServerOptions } from 'ws';
import type { CloseEvent, ErrorEvent, MessageData, WebSocket } from '../../src/node/client-index.js';

// ---------------------------------------------------------------- client events

/** The next event of `type` on `target`. */
export function nextEvent<E extends Event = Event>(target: EventTarget, type: string): Promise<E> {
  return new Promise((resolve) => target.addEventListener(type, (event) => resolve(event as E), { once: true }));
}

/** Resolves on 'open'; rejects if the connection closes first. */
export function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = (event: CloseEvent): void => reject(new Error(`closed before open: ${event.code}`));
    ws.addEventListener('close', onClose, { once: true });
    ws.addEventListener(
      'open',
      () => {
        ws.removeEventListener('close', onClose);
        resolve();
      },
      { once: true },
    );
  });
}

export function closed(ws: WebSocket): Promise<CloseEvent> {
  return nextEvent<CloseEvent>(ws, 'close');
}

/** The next `count` messages' data, in order. */
export function messages(ws: WebSocket, count: number): Promise<MessageData[]> {
  return new Promise((resolve) => {
    const received: MessageData[] = [];
    const onMessage = (event: MessageEvent<MessageData>): void => {
      received.push(event.data);
      if (received.length === count) {
        ws.removeEventListener('message', onMessage);
        resolve(received);
      }
    };
    ws.addEventListener('message', onMessage);
  });
}

export async function nextMessage(ws: WebSocket): Promise<MessageData> {
  return (await messages(ws, 1))[0]!;
}

/** Records event types (and close details) in dispatch order until 'close'. */
export function recordUntilClose(ws: WebSocket): Promise<{ order: string[]; close: CloseEvent; error: ErrorEvent | null }> {
  return new Promise((resolve) => {
    const order: string[] = [];
    let error: ErrorEvent | null = null;
    for (const type of ['open', 'message', 'error'] as const) {
      ws.addEventListener(type, (event) => {
        order.push(type);
        if (type === 'error') error = event as ErrorEvent;
      });
    }
    ws.addEventListener('close', (event) => {
      order.push('close');
      resolve({ order, close: event, error });
    });
  });
}

// ---------------------------------------------------------------- ws server

export interface WsPeer {
  wss: WebSocketServer;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** A `ws` server on 127.0.0.1:0 (echoing every message with its type unless `echo` is false). */
export async function startWsServer(options: ServerOptions = {}, echo = true): Promise<WsPeer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  if (echo) wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  if (!options.server && !options.noServer) await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  return {
    wss,
    port,
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- raw server

export interface RawConnection {
  socket: net.Socket;
  /** The request head, as text, without the blank line. */
  head: string;
  /** Sec-WebSocket-Key of the request. */
  key: string;
  /** Bytes received after the head. */
  rest: Buffer;
}

export interface RawPeer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** A `net` server that reads each request head and hands the connection over. */
export async function startRawServer(onConnection: (connection: RawConnection) => void): Promise<RawPeer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const head = buffered.subarray(0, end).toString('latin1');
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
      onConnection({ socket, head, key, rest: buffered.subarray(end + 4) });
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sec-WebSocket-Accept for a key, computed here independently of the code under test. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** A 101 response head accepting `key`, with extra header lines. */
export function switchingProtocols(key: string, extra: string[] = []): string {
  return ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`, ...extra]
    .join('\r\n')
    .concat('\r\n\r\n');
}

/** An unmasked server frame (FIN set). */
export function serverFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  let header: Buffer;
  if (data.length < 126) header = Buffer.from([0x80 | opcode, data.length]);
  else if (data.length < 65536) {
    header = Buffer.from([0x80 | opcode, 126, 0, 0]);
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  return Buffer.concat([header, data]);
}

export interface ClientFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Splits client frames off the front of `buffer`. Returns the complete
 * frames and the bytes left over.
 */
export function parseClientFrames(buffer: Buffer): { frames: ClientFrame[]; rest: Buffer } {
  const frames: ClientFrame[] = [];
  let offset = 0;
  for (;;) {
    if (buffer.length - offset < 2) break;
    const first = buffer[offset]!;
    const second = buffer[offset + 1]!;
    let length = second & 0x7f;
    let position = offset + 2;
    if (length === 126) {
      if (buffer.length < position + 2) break;
      length = buffer.readUInt16BE(position);
      position += 2;
    } else if (length === 127) {
      if (buffer.length < position + 8) break;
      length = Number(buffer.readBigUInt64BE(position));
      position += 8;
    }
    const masked = (second & 0x80) !== 0;
    const maskEnd = position + (masked ? 4 : 0);
    if (buffer.length < maskEnd + length) break;
    const payload = Buffer.from(buffer.subarray(maskEnd, maskEnd + length));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= buffer[position + (i % 4)]!;
    frames.push({ fin: (first & 0x80) !== 0, opcode: first & 0x0f, masked, payload });
    offset = maskEnd + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

/** Calls `onFrame` for every client frame arriving on a raw connection. */
export function onClientFrames(connection: RawConnection, onFrame: (frame: ClientFrame) => void): void {
  let pending = connection.rest;
  const drain = (): void => {
    const { frames, rest } = parseClientFrames(pending);
    pending = rest;
    for (const frame of frames) onFrame(frame);
  };
  connection.socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    drain();
  });
  drain();
}

/** The close payload of a code and reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}
