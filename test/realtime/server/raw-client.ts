/**
 * A WebSocket client on a bare TCP socket that can stop reading
 * (`socket.pause()`): a hand-made handshake, masked text frames out, frames
 * parsed in. For slow-consumer and conflation tests.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';

export interface Frame {
  opcode: number;
  payload: Buffer;
}

/** A WebSocket client on a bare TCP socket: hand-made handshake, masked text frames out, frames parsed in. */
export class RawClient {
  readonly frames: Frame[] = [];
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private received = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** `halfOpen`: the socket stays writable after the server's FIN (a client that keeps sending). */
  static async open(port: number, options: { path?: string; halfOpen?: boolean } = {}): Promise<RawClient> {
    const path = options.path ?? '/';
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: options.halfOpen ?? false });
    await once(socket, 'connect');
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: switchboard.v1.json\r\n\r\n',
    );
    let head = Buffer.alloc(0);
    while (!head.includes('\r\n\r\n')) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      head = Buffer.concat([head, chunk]);
    }
    const end = head.indexOf('\r\n\r\n') + 4;
    assert.match(head.subarray(0, end).toString(), /^HTTP\/1\.1 101 /);
    const client = new RawClient(socket);
    if (end < head.length) socket.unshift(head.subarray(end));
    return client;
  }

  sendText(message: object): void {
    this.socket.write(textFrame(message));
  }

  /** Bytes of every frame received so far (headers included). */
  get bytesReceived(): number {
    return this.received;
  }

  /** Parsed text messages. */
  messages(): Array<Record<string, unknown>> {
    return this.frames.filter((frame) => frame.opcode === 1).map((frame) => JSON.parse(frame.payload.toString()) as Record<string, unknown>);
  }

  async until(check: () => boolean, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  closeFrame(): { code: number; reason: string } | undefined {
    const frame = this.frames.find((candidate) => candidate.opcode === 8);
    return frame === undefined ? undefined : { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() };
  }

  private parse(): void {
    for (;;) {
      const buffer = this.buffer;
      if (buffer.length < 2) return;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      this.frames.push({ opcode: buffer[0]! & 0x0f, payload: Buffer.from(buffer.subarray(offset, offset + length)) });
      this.buffer = buffer.subarray(offset + length);
    }
  }
}


/** A masked text frame of `message` as JSON (under 64 KiB). */
export function textFrame(message: object): Buffer {
  const payload = Buffer.from(JSON.stringify(message));
  assert.ok(payload.length < 65536);
  const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([head, mask, masked]);
}
