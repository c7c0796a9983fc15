/**
 * Runs one conformance case over a connected raw socket (the handshake done)
 * and checks the outcome. Shared by server.test.ts (the peer is a raw TCP
 * client talking to our server), server-h2.test.ts (the same over an
 * extended CONNECT stream of an HTTP/2 connection: the stream's END_STREAM
 * plays the FIN) and client.test.ts (the peer is a raw TCP server talking to
 * our client).
 *
 * The peer runs the case's steps, then finishes the closing handshake the way
 * its role must (RFC 6455 §7.1): it answers our side's close frame if it did
 * not send one first, and as the server it closes TCP once the close frames
 * have crossed; as the client it waits for the server to close TCP.
 */
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import type { CloseExpectation, ConformanceCase, Reply, Role, Split, Step } from './cases.js';
import {
  closePayload,
  decodeClose,
  encodedHeaderSize,
  encodeFrame,
  FrameDecoder,
  isSendableCloseCode,
  isUtf8,
  OP,
  type DecodedFrame,
  type FrameSpec,
} from './peer.js';

/** What our side did on the wire, as the peer saw it. */
export interface PeerResult {
  /** Messages (reassembled), pings and pongs received before the close frame. */
  replies: Array<{ type: 'text' | 'binary' | 'ping' | 'pong'; data: Buffer }>;
  /** Our side's close frame, or null if none arrived. */
  close: { code: number | null; reason: string } | null;
  /** Frames received after the close frame (there must be none). */
  afterClose: number;
  /** Whether the peer had sent a close frame before our side's arrived. */
  peerClosedFirst: boolean;
  /** Our side closed its end of TCP (FIN), or the socket was reset. */
  tcpClosed: boolean;
  /** Who sent the first FIN: our side ('impl') or the peer. */
  firstFin: 'impl' | 'peer' | null;
  /** Malformed output from our side (see FrameDecoder), and malformed messages. */
  protocolErrors: string[];
  /** Waits of the steps or of the closing handshake that timed out. */
  timeouts: string[];
  /** Socket errors seen by the peer (resets after a failed connection are normal). */
  socketErrors: string[];
  /** Masked frames received, and how many distinct mask keys they used (§5.3: keys must be unpredictable). */
  maskedFrames: number;
  distinctMaskKeys: number;
}

/** Time the closing handshake may take: less than our default 5 s close timeout, so relying on the timer shows. */
const CLOSE_WAIT = 3000;

/** Event-loop turns the server-playing peer leaves the client to (wrongly) close TCP first. */
const CLIENT_FIN_TURNS = 4;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What the peer talks over: a TCP socket, or an HTTP/2 stream (no Nagle to turn off there). */
export type PeerSocket = Duplex & { setNoDelay?(noDelay: boolean): unknown };

export class Peer {
  /** Role of our implementation; the peer plays the other. */
  readonly role: Role;
  private readonly socket: PeerSocket;
  private readonly decoder: FrameDecoder;
  private readonly masked: boolean;
  private readonly encoded = new WeakMap<FrameSpec, Buffer>();
  private readonly result: PeerResult;
  private readonly waiters = new Set<() => void>();
  private message: { type: 'text' | 'binary'; parts: Buffer[] } | null = null;
  private peerEnded = false;
  private sentClose = false;
  private socketClosed = false;
  private readonly maskKeys = new Set<number>();

  constructor(socket: PeerSocket, role: Role, initial: Buffer) {
    this.socket = socket;
    this.role = role;
    this.masked = role === 'server';
    this.decoder = new FrameDecoder(role === 'client');
    this.result = {
      replies: [],
      close: null,
      afterClose: 0,
      peerClosedFirst: false,
      tcpClosed: false,
      firstFin: null,
      protocolErrors: this.decoder.errors,
      timeouts: [],
      socketErrors: [],
      maskedFrames: 0,
      distinctMaskKeys: 0,
    };
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      if (this.result.firstFin === null) this.result.firstFin = this.peerEnded ? 'peer' : 'impl';
      this.result.tcpClosed = true;
      this.notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.result.socketErrors.push(error.code ?? error.message);
    });
    socket.on('close', () => {
      this.socketClosed = true;
      this.result.tcpClosed = true;
      this.notify();
    });
    if (initial.length > 0) this.onData(initial);
    socket.resume();
  }

  /** The bytes of a frame as this peer sends it (encoded once, so that parts of it line up). */
  encode(spec: FrameSpec): Buffer {
    let bytes = this.encoded.get(spec);
    if (!bytes) {
      bytes = encodeFrame(spec, this.masked);
      this.encoded.set(spec, bytes);
    }
    return bytes;
  }

  /** Runs the steps, then completes the closing handshake; resolves with what our side did. */
  async run(testCase: ConformanceCase, skipFirstSend = false): Promise<PeerResult> {
    try {
      let steps = testCase.steps;
      if (skipFirstSend) {
        const first = steps[0];
        if (first?.kind === 'send') {
          for (const frame of first.frames) if (frame.opcode === OP.CLOSE) this.sentClose = true;
        }
        steps = steps.slice(1);
      }
      for (const step of steps) {
        if (!(await this.runStep(step))) break;
      }
      await this.finish(testCase.close);
    } finally {
      this.socket.destroy();
    }
    return this.result;
  }

  private async runStep(step: Step): Promise<boolean> {
    switch (step.kind) {
      case 'send':
        for (const frame of step.frames) if (frame.opcode === OP.CLOSE) this.sentClose = true;
        await this.sendBytes(step.frames.map((frame) => this.encode(frame)), step.split);
        await turn();
        return true;
      case 'sendPart': {
        const bytes = this.encode(step.frame);
        const header = encodedHeaderSize(step.frame, this.masked);
        const from = step.from === 0 ? 0 : header + step.from;
        const to = step.to === undefined ? bytes.length : header + step.to;
        if (step.frame.opcode === OP.CLOSE) this.sentClose = true;
        await this.write(bytes.subarray(from, to));
        await turn();
        return true;
      }
      case 'waitReplies':
        return this.waitFor(() => this.replyCount() >= step.count, step.timeout, () => `${step.count} replies (got ${this.replyCount()})`);
      case 'waitClose':
        // Not failing fast is recorded; the rest is sent anyway, to show whether the close comes later.
        await this.waitFor(() => this.result.close !== null, step.timeout, () => 'close frame before the rest was sent (fail fast)');
        return true;
    }
  }

  private async sendBytes(frames: Buffer[], split: Split): Promise<void> {
    if (split === 'frames') {
      for (const [i, frame] of frames.entries()) {
        if (i > 0) await turn();
        await this.write(frame);
      }
      return;
    }
    const bytes = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    if (split === 'whole') {
      await this.write(bytes);
      return;
    }
    const head = Math.min(split.head ?? 0, bytes.length);
    let offset = 0;
    while (offset < bytes.length) {
      const size = offset < head ? 1 : split.size;
      if (offset > 0) await turn();
      if (!(await this.write(bytes.subarray(offset, offset + size)))) return;
      offset += size;
    }
  }

  /** Writes unless our side has closed the connection; false when it was not written. */
  private write(bytes: Buffer): Promise<boolean> {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded || !socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => {
      socket.write(bytes, (error) => resolve(!error));
    });
  }

  private replyCount(): number {
    return this.result.replies.length;
  }

  private waitFor(predicate: () => boolean, timeout: number, what: () => string): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (predicate()) {
          done();
          resolve(true);
        } else if (this.socketClosed) {
          done();
          this.result.timeouts.push(`connection closed while waiting for ${what()}`);
          resolve(false);
        }
      };
      const timer = setTimeout(() => {
        done();
        this.result.timeouts.push(`waited ${timeout} ms for ${what()}`);
        resolve(false);
      }, timeout);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }

  private async finish(expected: CloseExpectation): Promise<void> {
    if (!(await this.waitFor(() => this.result.close !== null, CLOSE_WAIT, () => 'the close frame'))) return;
    const close = this.result.close!;
    if (!this.sentClose) {
      // Answer our side's close like any endpoint (§5.5.1): same code when it may be sent.
      this.sentClose = true;
      const code = close.code === null ? undefined : isSendableCloseCode(close.code) ? close.code : 1000;
      await this.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(code), fin: true, rsv: 0 }, this.masked));
    }
    if (this.role === 'client' && expected.kind === 'echo' && !this.result.tcpClosed) {
      // The peer is the server: it closes TCP once both close frames have crossed (§7.1.1).
      // A few event-loop turns first, so that a client closing TCP itself right after its close
      // frame is seen (two turns suffice on loopback for a client in this process; four for margin).
      for (let i = 0; i < CLIENT_FIN_TURNS && !this.result.tcpClosed; i++) await turn();
      if (!this.result.tcpClosed) {
        this.peerEnded = true;
        this.socket.end();
      }
    }
    await this.waitFor(() => this.result.tcpClosed, CLOSE_WAIT, () => 'our side to close TCP');
  }

  // ------------------------------------------------------------ receiving

  private onData(chunk: Buffer): void {
    for (const frame of this.decoder.push(chunk)) this.onFrame(frame);
    this.notify();
  }

  private onFrame(frame: DecodedFrame): void {
    const result = this.result;
    if (frame.maskKey) {
      result.maskedFrames++;
      const key = frame.maskKey.readUInt32BE(0);
      if (!this.maskKeys.has(key)) {
        this.maskKeys.add(key);
        result.distinctMaskKeys++;
      }
    }
    if (result.close !== null) {
      result.afterClose++;
      return;
    }
    switch (frame.opcode) {
      case OP.CLOSE: {
        const close = decodeClose(frame.payload);
        result.protocolErrors.push(...close.errors);
        if (this.message) result.protocolErrors.push('close frame in the middle of a fragmented message from our side');
        result.close = { code: close.code, reason: close.reason };
        result.peerClosedFirst = this.sentClose;
        return;
      }
      case OP.PING:
      case OP.PONG:
        result.replies.push({ type: frame.opcode === OP.PING ? 'ping' : 'pong', data: frame.payload });
        return;
      case OP.TEXT:
      case OP.BINARY:
        if (this.message) result.protocolErrors.push('new data frame inside a fragmented message (§5.4)');
        this.message = { type: frame.opcode === OP.TEXT ? 'text' : 'binary', parts: [frame.payload] };
        break;
      case OP.CONT:
        if (!this.message) {
          result.protocolErrors.push('continuation frame without a message (§5.4)');
          return;
        }
        this.message.parts.push(frame.payload);
        break;
      default:
        return; // reported by the decoder
    }
    if (!frame.fin) return;
    const message = this.message!;
    this.message = null;
    const data = message.parts.length === 1 ? message.parts[0]! : Buffer.concat(message.parts);
    if (message.type === 'text' && !isUtf8(data)) result.protocolErrors.push('text message that is not UTF-8 (§8.1)');
    result.replies.push({ type: message.type, data });
  }
}

// ---------------------------------------------------------------- checking

function describeData(data: Buffer): string {
  if (data.length <= 48) return `${data.length} bytes <${data.toString('hex')}>`;
  return `${data.length} bytes <${data.subarray(0, 24).toString('hex')}…>`;
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Compares replies without dumping megabytes into the assertion message. */
function compareReplies(actual: PeerResult['replies'], expected: Reply[]): string | null {
  const problems: string[] = [];
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n && problems.length < 5; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!a) problems.push(`reply ${i}: missing, expected ${e!.type} ${describeData(e!.data)}`);
    else if (!e) problems.push(`reply ${i}: unexpected ${a.type} ${describeData(a.data)}`);
    else if (a.type !== e.type) problems.push(`reply ${i}: got ${a.type} ${describeData(a.data)}, expected ${e.type} ${describeData(e.data)}`);
    else if (!a.data.equals(e.data)) {
      problems.push(`reply ${i} (${e.type}): got ${describeData(a.data)}, expected ${describeData(e.data)}, first difference at byte ${firstDifference(a.data, e.data)}`);
    }
  }
  if (problems.length === 0) return null;
  return `${actual.length} replies, ${expected.length} expected:\n  ${problems.join('\n  ')}`;
}

/** Asserts the wire outcome of a case for either role. */
export function assertOutcome(testCase: ConformanceCase, result: PeerResult, role: Role): void {
  const problems: string[] = [];
  if (result.protocolErrors.length > 0) problems.push(`malformed output: ${[...new Set(result.protocolErrors)].join('; ')}`);
  const replies = compareReplies(result.replies, testCase.replies);
  if (replies) problems.push(replies);
  const expected = testCase.close;
  const expectedCode = expected.code === null ? 'an empty close' : `close ${expected.code}`;
  if (result.close === null) {
    problems.push(`no close frame, expected ${expectedCode}`);
  } else if (result.close.code !== expected.code) {
    problems.push(`got ${result.close.code === null ? 'an empty close' : `close ${result.close.code}`}, expected ${expectedCode} (${expected.kind})`);
  }
  if (result.maskedFrames >= 8 && result.distinctMaskKeys < result.maskedFrames / 2) {
    problems.push(`${result.maskedFrames} masked frames used only ${result.distinctMaskKeys} distinct mask keys (§5.3)`);
  }
  if (result.afterClose > 0) problems.push(`${result.afterClose} frame(s) after the close frame`);
  if (!result.tcpClosed) problems.push('our side did not close the TCP connection');
  else {
    // §7.1.1: the server closes TCP first; a failing endpoint closes it at once (§7.1.7).
    const expectedFin = role === 'server' || expected.kind === 'fail' ? 'impl' : 'peer';
    if (result.firstFin !== null && result.firstFin !== expectedFin) {
      problems.push(expectedFin === 'peer' ? 'the client closed TCP before the server did' : 'the peer had to close TCP first');
    }
  }
  if (result.timeouts.length > 0) problems.push(`timeouts: ${result.timeouts.join('; ')}`);
  assert.ok(problems.length === 0, `${testCase.id} (${role}): ${problems.join('\n')}`);
}

/** The first close frame the peer sends in a case, decoded: what a client's close event reports after a clean close. */
export function peerClose(testCase: ConformanceCase): { code: number; reason: string } | null {
  for (const step of testCase.steps) {
    if (step.kind !== 'send') continue;
    for (const frame of step.frames) {
      if (frame.opcode !== OP.CLOSE) continue;
      const close = decodeClose(frame.payload);
      return { code: close.code ?? 1005, reason: close.reason };
    }
  }
  return null;
}
