// Helpers for the server tests: a raw TCP peer that speaks the handshake and
// frames byte by byte, raw HTTP exchanges, and a self-signed certificate.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrameToBuffer, type Opcode } from '../../src/protocol/frame.js';
import { computeAccept, generateKey } from '../../src/protocol/handshake.js';

export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** The frame's bytes, header included. */
  bytes: Buffer;
}

/** A client frame (masked unless `masked` is false). */
export function clientFrame(opcode: Opcode, payload: Uint8Array | string, masked = true, fin = true): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return encodeFrameToBuffer(opcode, bytes, { fin, maskKey: masked ? Buffer.from([1, 2, 3, 4]) : null });
}

/** Parses one unmasked frame at the start of `buffer`, or returns null when incomplete. */
export function parseFrame(buffer: Buffer): RawFrame | null {
  if (buffer.length < 2) return null;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer.length < offset + length) return null;
  return {
    fin: (buffer[0]! & 0x80) !== 0,
    opcode: buffer[0]! & 0x0f,
    payload: buffer.subarray(offset, offset + length),
    bytes: buffer.subarray(0, offset + length),
  };
}

/** A raw TCP client: writes bytes as given and reads what comes back. */
export class RawPeer {
  readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | null = null;
  readonly closed: Promise<void>;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.ended = true;
        this.notify();
        resolve();
      });
    });
    socket.once('end', () => {
      this.ended = true;
      this.notify();
    });
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  /**
   * Connects and performs the opening handshake (with `extra` bytes sent in
   * the same write as the request). Returns the peer and the response head.
   */
  static async upgrade(port: number, path = '/', headers: Record<string, string> = {}, extra?: Buffer): Promise<{ peer: RawPeer; head: string }> {
    const peer = await RawPeer.connect(port);
    const key = generateKey();
    const request = upgradeRequest(path, { 'Sec-WebSocket-Key': key, ...headers });
    peer.socket.write(extra ? Buffer.concat([Buffer.from(request), extra]) : request);
    const head = await peer.readHead();
    if (!head.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head}`);
    if (!head.includes(`Sec-WebSocket-Accept: ${computeAccept(key)}`)) throw new Error('bad accept');
    return { peer, head };
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async more(): Promise<void> {
    if (this.ended) throw new Error('connection closed');
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  /** Bytes received and not consumed yet. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Reads an HTTP response head (through the blank line). */
  async readHead(): Promise<string> {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end !== -1) {
        const head = this.buffer.subarray(0, end + 4).toString('latin1');
        this.buffer = this.buffer.subarray(end + 4);
        return head;
      }
      await this.more();
    }
  }

  /** Reads exactly `n` bytes. */
  async read(n: number): Promise<Buffer> {
    while (this.buffer.length < n) await this.more();
    const bytes = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return bytes;
  }

  /** Reads the next frame. */
  async frame(): Promise<RawFrame> {
    for (;;) {
      const frame = parseFrame(this.buffer);
      if (frame) {
        this.buffer = this.buffer.subarray(frame.bytes.length);
        return { ...frame, payload: Buffer.from(frame.payload), bytes: Buffer.from(frame.bytes) };
      }
      await this.more();
    }
  }

  /** Reads everything until the server closes the connection. */
  async readToEnd(): Promise<Buffer> {
    await this.closed;
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The text of an upgrade request with the usual headers (override or add with `headers`). */
export function upgradeRequest(path: string, headers: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    Host: 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': generateKey(),
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let text = `GET ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(all)) if (value !== '') text += `${name}: ${value}\r\n`;
  return text + '\r\n';
}

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** Sends raw bytes and parses the HTTP response the server sends before closing (or in full, by Content-Length). */
export async function rawExchange(port: number, request: string): Promise<RawResponse> {
  const peer = await RawPeer.connect(port);
  peer.send(Buffer.from(request));
  const head = await peer.readHead();
  const [statusLine, ...lines] = head.trimEnd().split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = (await peer.read(length)).toString('utf8');
  peer.destroy();
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

/** A self-signed certificate for localhost, made by the openssl CLI in a temporary directory. */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyPath, '-out', certPath],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(keyPath), cert: readFileSync(certPath) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
