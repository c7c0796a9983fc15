// A ConnectionHandler that records everything a protocol Connection does, for
// bytes-in / bytes-out tests.
import { Connection, type ConnectionOptions, type Role } from '../../src/protocol/connection.js';
import { RemoteProtocolError } from '../../src/protocol/errors.js';

export type RecordedEvent =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: string }
  | { type: 'ping'; data: string }
  | { type: 'pong'; data: string }
  | { type: 'close'; code: number; reason: string }
  | { type: 'violation'; code: string; closeCode: number }
  | { type: 'end' };

export class Recorder {
  readonly events: RecordedEvent[] = [];
  private readonly written: Buffer[] = [];
  readonly connection: Connection;

  constructor(role: Role, options: Omit<ConnectionOptions, 'role'> = {}) {
    this.connection = new Connection(
      { role, maskKey: () => Buffer.from([0x37, 0xfa, 0x21, 0x3d]), ...options },
      {
        write: (data) => this.written.push(Buffer.from(data)),
        end: () => this.events.push({ type: 'end' }),
        message: (data, binary) =>
          this.events.push(binary ? { type: 'binary', data: data.toString('hex') } : { type: 'text', data: data.toString('utf8') }),
        ping: (payload) => this.events.push({ type: 'ping', data: payload.toString('hex') }),
        pong: (payload) => this.events.push({ type: 'pong', data: payload.toString('hex') }),
        closeFrame: (code, reason) => this.events.push({ type: 'close', code, reason }),
        violation: (error: RemoteProtocolError) => this.events.push({ type: 'violation', code: error.code, closeCode: error.closeCode }),
      },
    );
  }

  /** Feeds a copy of the bytes (the connection unmasks in place). */
  receive(bytes: Uint8Array | string): this {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes.replace(/\s+/g, ''), 'hex') : Buffer.from(bytes);
    this.connection.receiveData(buffer);
    return this;
  }

  /** Everything written since the last call, as one hex string. */
  output(): string {
    const out = Buffer.concat(this.written).toString('hex');
    this.written.length = 0;
    return out;
  }
}

/** Hex of a buffer, for assertions. */
export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Builds a frame (for the peer side of a test), masked with `maskKey` if given. */
export function frame(
  opcode: number,
  payload: Uint8Array | string,
  options: { fin?: boolean; rsv?: number; maskKey?: number[] | null } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const fin = options.fin ?? true;
  const key = options.maskKey ?? null;
  const length = data.length;
  const header: number[] = [(fin ? 0x80 : 0) | (options.rsv ?? 0) | opcode];
  const maskBit = key ? 0x80 : 0;
  if (length < 126) header.push(maskBit | length);
  else if (length < 65536) header.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    header.push(maskBit | 127, 0, 0, 0, 0, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  }
  if (key) {
    header.push(...key);
    for (let i = 0; i < length; i++) data[i] = data[i]! ^ key[i & 3]!;
  }
  return Buffer.concat([Buffer.from(header), data]);
}

/** A frame as a client sends it (masked). */
export const clientFrame = (opcode: number, payload: Uint8Array | string, options: { fin?: boolean; rsv?: number } = {}): Buffer =>
  frame(opcode, payload, { ...options, maskKey: [0x12, 0x34, 0x56, 0x78] });
