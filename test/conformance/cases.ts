/**
 * The conformance cases: one table, run against our server (the test peer
 * plays the client) and against our client (the peer plays the server).
 *
 * Sections follow Autobahn|Testsuite's numbering (1 framing, 2 ping/pong,
 * 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close, 9 limits,
 * 10 misc) and each case names the RFC 6455 section it checks and, where
 * there is one, the Autobahn case it mirrors. Section 12/13 (permessage-
 * deflate) does not apply: no extension is negotiated.
 *
 * A case is what the peer sends (frames, split into TCP writes as said, with
 * waits for replies or for the close frame between steps) and what it must
 * get back: the replies (echoed messages with their type, pongs) before the
 * close frame, and the close frame: either our side echoes the peer's close
 * (`echo`), or our side fails the connection with a code (`fail`). The
 * harness also checks that nothing follows the close frame, that the TCP
 * connection is closed by the side that must close it, and that everything
 * our side wrote is well-formed (see peer.ts).
 */
import { closePayload, OP, RSV1, RSV2, RSV3, type FrameSpec } from './peer.js';

/** The role of our implementation under test; the peer plays the other one. */
export type Role = 'server' | 'client';

/**
 * How a send step cuts its bytes into TCP writes: all frames in one write,
 * one write per frame, or fixed-size chunks (the first `head` bytes one at a
 * time). The peer yields to the event loop between writes so that they reach
 * the other side as separate reads.
 */
export type Split = 'whole' | 'frames' | { size: number; head?: number };

export type Step =
  | { kind: 'send'; frames: FrameSpec[]; split: Split }
  /** Part of one frame's bytes: payload offsets [from, to); from 0 includes the header. */
  | { kind: 'sendPart'; frame: FrameSpec; from: number; to?: number }
  /** Wait until this many replies (messages and pongs, counted from the start) have arrived. */
  | { kind: 'waitReplies'; count: number; timeout: number }
  /** Wait for our side's close frame; failing fast means it comes before the peer sends more. */
  | { kind: 'waitClose'; timeout: number };

export interface Reply {
  type: 'text' | 'binary' | 'pong';
  data: Buffer;
}

export type CloseExpectation =
  /** Our side answers the peer's close frame with the same code (null: an empty close). */
  | { kind: 'echo'; code: number | null }
  /** Our side fails the connection (RFC 6455 §7.1.7) with this code and closes TCP. */
  | { kind: 'fail'; code: number };

export interface ConformanceCase {
  id: string;
  title: string;
  /** RFC 6455 section(s) the case checks. */
  rfc: string;
  /** The Autobahn|Testsuite case it mirrors, if any. */
  autobahn?: string;
  roles: readonly Role[];
  /** 'small': maxMessageSize 64 KiB, maxFragments 16 (else 16 MiB and 65 536). */
  limits: 'default' | 'small';
  /** Client role: the first send step goes out in the same TCP write as the 101 response. */
  glueToHandshake?: boolean;
  steps: Step[];
  replies: Reply[];
  close: CloseExpectation;
  /** Milliseconds for the whole case. */
  timeout: number;
}

export interface Section {
  id: string;
  title: string;
  rfc: string;
  cases: ConformanceCase[];
}

export const DEFAULT_LIMITS = { maxMessageSize: 16 * 1024 * 1024, maxFragments: 65536 } as const;
export const SMALL_LIMITS = { maxMessageSize: 64 * 1024, maxFragments: 16 } as const;

// ---------------------------------------------------------------- building blocks

type Bytes = string | Buffer | number[];
const toBuffer = (data: Bytes): Buffer => (Buffer.isBuffer(data) ? data : typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data));

interface FrameOptions {
  fin?: boolean;
  rsv?: number;
  masked?: boolean;
  lengthField?: number[];
}

function frame(opcode: number, payload: Bytes, options: FrameOptions = {}): FrameSpec {
  return { opcode, payload: toBuffer(payload), fin: options.fin ?? true, rsv: options.rsv ?? 0, masked: options.masked, lengthField: options.lengthField };
}
const text = (payload: Bytes, options?: FrameOptions): FrameSpec => frame(OP.TEXT, payload, options);
const binary = (payload: Bytes, options?: FrameOptions): FrameSpec => frame(OP.BINARY, payload, options);
const cont = (payload: Bytes, options?: FrameOptions): FrameSpec => frame(OP.CONT, payload, options);
const ping = (payload: Bytes = '', options?: FrameOptions): FrameSpec => frame(OP.PING, payload, options);
const pong = (payload: Bytes = '', options?: FrameOptions): FrameSpec => frame(OP.PONG, payload, options);
const close = (code?: number, reason: string | Buffer = ''): FrameSpec => frame(OP.CLOSE, closePayload(code, reason));

/** A message cut into fragments: the first carries the opcode, the rest are continuations. */
function fragments(opcode: number, parts: Bytes[]): FrameSpec[] {
  return parts.map((part, i) => frame(i === 0 ? opcode : OP.CONT, part, { fin: i === parts.length - 1 }));
}
/** A payload cut into `size`-byte pieces. */
function pieces(payload: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) out.push(payload.subarray(i, i + size));
  return out.length > 0 ? out : [Buffer.alloc(0)];
}

const send = (...frames: FrameSpec[]): Step => ({ kind: 'send', frames, split: 'whole' });
const sendSplit = (split: Split, ...frames: FrameSpec[]): Step => ({ kind: 'send', frames, split });
const sendPart = (f: FrameSpec, from: number, to?: number): Step => ({ kind: 'sendPart', frame: f, from, to });
const waitReplies = (count: number, timeout = 5000): Step => ({ kind: 'waitReplies', count, timeout });
const waitClose = (timeout = 2000): Step => ({ kind: 'waitClose', timeout });

const T = (data: Bytes): Reply => ({ type: 'text', data: toBuffer(data) });
const B = (data: Bytes): Reply => ({ type: 'binary', data: toBuffer(data) });
const P = (data: Bytes = ''): Reply => ({ type: 'pong', data: toBuffer(data) });

const echo = (code: number | null = 1000): CloseExpectation => ({ kind: 'echo', code });
const fail = (code: number): CloseExpectation => ({ kind: 'fail', code });

/** ASCII filler, as Autobahn uses. */
const TEXT_PATTERN = 'BAsd7&jh23';
/** All 256 byte values, in a scrambled order. */
const BINARY_PATTERN = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 167 + 13) & 0xff));
const textPayload = (n: number): Buffer => (n === 0 ? Buffer.alloc(0) : Buffer.alloc(n, TEXT_PATTERN));
const binaryPayload = (n: number): Buffer => (n === 0 ? Buffer.alloc(0) : Buffer.alloc(n, BINARY_PATTERN));
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const KIB = 1024;
const MIB = 1024 * 1024;
/** "κόσμε", the Greek word of Markus Kuhn's UTF-8 test file. */
const KOSME = hex('ce ba e1 bd b9 cf 83 ce bc ce b5');
const HELLO_UTF8 = 'Hello-µ@ßöäüàá-UTF-8!!';

interface CaseDefinition {
  rfc: string;
  autobahn?: string;
  roles?: readonly Role[];
  limits?: 'default' | 'small';
  glueToHandshake?: boolean;
  steps: Step[];
  replies?: Reply[];
  close: CloseExpectation;
  timeout?: number;
}

function def(id: string, title: string, d: CaseDefinition): ConformanceCase {
  return {
    id,
    title,
    rfc: d.rfc,
    autobahn: d.autobahn,
    roles: d.roles ?? ['server', 'client'],
    limits: d.limits ?? 'default',
    glueToHandshake: d.glueToHandshake,
    steps: d.steps,
    replies: d.replies ?? [],
    close: d.close,
    timeout: d.timeout ?? 15_000,
  };
}

/** Send, wait for all replies, then close cleanly with 1000. */
function roundTrip(frames: FrameSpec[], replies: Reply[], split: Split = 'whole', wait = 5000): Pick<CaseDefinition, 'steps' | 'replies' | 'close'> {
  return { steps: [sendSplit(split, ...frames), waitReplies(replies.length, wait), send(close(1000))], replies, close: echo(1000) };
}

/** A valid message echoed first, then the offending frames followed by a ping that must go unanswered. */
function afterValid(invalid: FrameSpec[], code: number, split: Split = 'whole'): Pick<CaseDefinition, 'steps' | 'replies' | 'close'> {
  return {
    steps: [send(text('Hello, world!')), waitReplies(1), sendSplit(split, ...invalid, ping('must not be answered'))],
    replies: [T('Hello, world!')],
    close: fail(code),
  };
}

/** The offending frames alone, followed by a ping that must go unanswered. */
function violation(invalid: FrameSpec[], code: number, split: Split = 'whole'): Pick<CaseDefinition, 'steps' | 'replies' | 'close'> {
  return { steps: [sendSplit(split, ...invalid, ping('must not be answered'))], replies: [], close: fail(code) };
}

// ---------------------------------------------------------------- 1 framing

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];
/** One byte at a time for short frames; for long ones the header byte by byte, then 997-byte chops (Autobahn 1.1.8). */
const chunking = (n: number): Split => (n <= 128 ? { size: 1 } : { size: 997, head: 16 });

const framing: Section = {
  id: '1',
  title: 'Framing',
  rfc: '§5.2, §5.6',
  cases: [
    ...LENGTHS.map((n, i) =>
      def(`1.1.${i + 1}`, `text message of ${n} bytes, one write`, { rfc: '§5.2, §5.6', autobahn: `1.1.${i + 1}`, ...roundTrip([text(textPayload(n))], [T(textPayload(n))]) }),
    ),
    ...LENGTHS.map((n, i) =>
      def(`1.2.${i + 1}`, `binary message of ${n} bytes, one write`, { rfc: '§5.2, §5.6', autobahn: `1.2.${i + 1}`, ...roundTrip([binary(binaryPayload(n))], [B(binaryPayload(n))]) }),
    ),
    ...LENGTHS.map((n, i) =>
      def(`1.3.${i + 1}`, `text message of ${n} bytes, ${n <= 128 ? '1-byte chunks' : 'header byte by byte, then 997-byte chunks'}`, {
        rfc: '§5.2',
        autobahn: n === 65536 ? '1.1.8' : undefined,
        ...roundTrip([text(textPayload(n))], [T(textPayload(n))], chunking(n)),
      }),
    ),
    ...LENGTHS.map((n, i) =>
      def(`1.4.${i + 1}`, `binary message of ${n} bytes, ${n <= 128 ? '1-byte chunks' : 'header byte by byte, then 997-byte chunks'}`, {
        rfc: '§5.2',
        autobahn: n === 65536 ? '1.2.8' : undefined,
        ...roundTrip([binary(binaryPayload(n))], [B(binaryPayload(n))], chunking(n)),
      }),
    ),
    def('1.5.1', 'unmasked frame from the client → 1002', {
      rfc: '§5.1, §5.3',
      roles: ['server'],
      ...afterValid([text('unmasked', { masked: false })], 1002),
    }),
    def('1.5.2', 'masked frame from the server → 1002', {
      rfc: '§5.1',
      roles: ['client'],
      ...afterValid([text('masked', { masked: true })], 1002),
    }),
    def('1.5.3', '64-bit length with the most significant bit set → 1002', {
      rfc: '§5.2',
      ...afterValid([binary('12345', { lengthField: [127, 0x80, 0, 0, 0, 0, 0, 0, 5] })], 1002),
    }),
    def('1.5.4', 'text and binary messages in one write, echoed in order', {
      rfc: '§5.6',
      ...roundTrip([text('one'), binary([1, 2, 3]), text(''), binary([]), text('five')], [T('one'), B([1, 2, 3]), T(''), B([]), T('five')]),
    }),
    def('1.5.5', 'a message in the same TCP write as the 101 response', {
      rfc: '§4.1, §5.6',
      roles: ['client'],
      glueToHandshake: true,
      ...roundTrip([text('right after the handshake')], [T('right after the handshake')]),
    }),
  ],
};

// ---------------------------------------------------------------- 2 ping/pong

const tenPings = Array.from({ length: 10 }, (_, i) => `payload-${i}`);

const pingPong: Section = {
  id: '2',
  title: 'Pings and pongs',
  rfc: '§5.5.2, §5.5.3',
  cases: [
    def('2.1', 'empty ping → empty pong', { rfc: '§5.5.2', autobahn: '2.1', ...roundTrip([ping()], [P()]) }),
    def('2.2', 'ping with a text payload → pong with the same payload', { rfc: '§5.5.2', autobahn: '2.2', ...roundTrip([ping('Hello, world!')], [P('Hello, world!')]) }),
    def('2.3', 'ping with a binary payload', {
      rfc: '§5.5.2',
      autobahn: '2.3',
      ...roundTrip([ping([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])], [P([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])]),
    }),
    def('2.4', 'ping with a 125-byte payload', { rfc: '§5.5', autobahn: '2.4', ...roundTrip([ping(Buffer.alloc(125, 0xfe))], [P(Buffer.alloc(125, 0xfe))]) }),
    def('2.5', 'ping with a 126-byte payload → 1002', { rfc: '§5.5', autobahn: '2.5', ...violation([ping(Buffer.alloc(126, 0xfe))], 1002) }),
    def('2.6', 'ping with a 125-byte payload, 1-byte chunks', {
      rfc: '§5.5.2',
      autobahn: '2.6',
      ...roundTrip([ping(Buffer.alloc(125, 0xfe))], [P(Buffer.alloc(125, 0xfe))], { size: 1 }),
    }),
    def('2.7', 'unsolicited empty pong is ignored', { rfc: '§5.5.3', autobahn: '2.7', ...roundTrip([pong(), text('after pong')], [T('after pong')]) }),
    def('2.8', 'unsolicited pong with a payload is ignored', {
      rfc: '§5.5.3',
      autobahn: '2.8',
      ...roundTrip([pong('unsolicited pong payload'), text('after pong')], [T('after pong')]),
    }),
    def('2.9', 'unsolicited pong, then a ping → one pong, for the ping', {
      rfc: '§5.5.3',
      autobahn: '2.9',
      ...roundTrip([pong('unsolicited pong payload'), ping('ping payload')], [P('ping payload')]),
    }),
    def('2.10', '10 pings → 10 pongs, in order', { rfc: '§5.5.2', autobahn: '2.10', ...roundTrip(tenPings.map((p) => ping(p)), tenPings.map((p) => P(p))) }),
    def('2.11', '10 pings in 1-byte chunks → 10 pongs, in order', {
      rfc: '§5.5.2',
      autobahn: '2.11',
      ...roundTrip(tenPings.map((p) => ping(p)), tenPings.map((p) => P(p)), { size: 1 }),
    }),
    def('2.12', 'fragmented ping → 1002', {
      rfc: '§5.4, §5.5',
      autobahn: '5.1',
      ...violation([ping('fragment1', { fin: false }), cont('fragment2')], 1002),
    }),
    def('2.13', 'fragmented pong → 1002', {
      rfc: '§5.4, §5.5',
      autobahn: '5.2',
      ...violation([pong('fragment1', { fin: false }), cont('fragment2')], 1002),
    }),
  ],
};

// ---------------------------------------------------------------- 3 reserved bits

const RSV_BITS: Array<[string, number]> = [
  ['RSV1', RSV1],
  ['RSV2', RSV2],
  ['RSV3', RSV3],
];
const RSV_FRAMES: Array<[string, (rsv: number) => FrameSpec]> = [
  ['text', (rsv) => text('Hello, world!', { rsv })],
  ['binary', (rsv) => binary([0x00, 0xff, 0xfe, 0xfd], { rsv })],
  ['ping', (rsv) => ping('Hello, world!', { rsv })],
];

const reservedBits: Section = {
  id: '3',
  title: 'Reserved bits',
  rfc: '§5.2, §5.8',
  cases: [
    ...RSV_FRAMES.flatMap(([kind, make], k) =>
      RSV_BITS.map(([name, bit], b) =>
        def(`3.${k * 3 + b + 1}`, `${name} on a ${kind} frame → 1002`, {
          rfc: '§5.2',
          // Autobahn's RSV value n is the 3-bit field: 1 = RSV3, 2 = RSV2, 4 = RSV1.
          autobahn: k === 0 && name === 'RSV3' ? '3.1' : k === 0 && name === 'RSV2' ? '3.2' : undefined,
          ...afterValid([make(bit)], 1002),
        }),
      ),
    ),
    def('3.10', 'RSV1|RSV2|RSV3 on a close frame → 1002', { rfc: '§5.2', autobahn: '3.7', ...afterValid([{ ...close(1000), rsv: RSV1 | RSV2 | RSV3 }], 1002) }),
    def('3.11', 'RSV1 on a continuation frame → 1002', {
      rfc: '§5.2',
      ...afterValid([text('fragment1', { fin: false }), cont('fragment2', { rsv: RSV1 })], 1002),
    }),
    def('3.12', 'RSV2|RSV3 on a text frame, one write per frame → 1002', {
      rfc: '§5.2',
      autobahn: '3.3',
      ...afterValid([text('Hello, world!', { rsv: RSV2 | RSV3 })], 1002, 'frames'),
    }),
    def('3.13', 'RSV1 on a text frame, 1-byte chunks → 1002', { rfc: '§5.2', autobahn: '3.4', ...afterValid([text('Hello, world!', { rsv: RSV1 })], 1002, { size: 1 }) }),
    def('3.14', 'RSV1|RSV3 on a binary frame → 1002', { rfc: '§5.2', autobahn: '3.5', ...afterValid([binary([0x00, 0xff, 0xfe, 0xfd], { rsv: RSV1 | RSV3 })], 1002) }),
    def('3.15', 'RSV1|RSV2 on a ping → 1002', { rfc: '§5.2', autobahn: '3.6', ...afterValid([ping('Hello, world!', { rsv: RSV1 | RSV2 })], 1002) }),
  ],
};

// ---------------------------------------------------------------- 4 opcodes

const opcodes: Section = {
  id: '4',
  title: 'Opcodes',
  rfc: '§5.2',
  cases: [
    ...[3, 4, 5, 6, 7].map((op, i) =>
      def(`4.1.${i + 1}`, `reserved non-control opcode ${op} → 1002`, {
        rfc: '§5.2',
        autobahn: `4.1.${i + 1}`,
        ...afterValid([frame(op, i === 0 || i === 2 ? '' : 'reserved opcode payload')], 1002),
      }),
    ),
    ...[11, 12, 13, 14, 15].map((op, i) =>
      def(`4.2.${i + 1}`, `reserved control opcode ${op} → 1002`, {
        rfc: '§5.2',
        autobahn: `4.2.${i + 1}`,
        ...afterValid([frame(op, i === 0 || i === 2 ? '' : 'reserved opcode payload')], 1002),
      }),
    ),
  ],
};

// ---------------------------------------------------------------- 5 fragmentation

const tenFragments = Array.from({ length: 10 }, (_, i) => `fragment${i}-`);
const hundredFragments = pieces(binaryPayload(1000), 10);

const fragmentation: Section = {
  id: '5',
  title: 'Fragmentation',
  rfc: '§5.4',
  cases: [
    def('5.1', 'text in 2 fragments', { rfc: '§5.4', autobahn: '5.3', ...roundTrip(fragments(OP.TEXT, ['fragment1', 'fragment2']), [T('fragment1fragment2')]) }),
    def('5.2', 'text in 2 fragments, 1-byte chunks', {
      rfc: '§5.4',
      autobahn: '5.4',
      ...roundTrip(fragments(OP.TEXT, ['fragment1', 'fragment2']), [T('fragment1fragment2')], { size: 1 }),
    }),
    def('5.3', 'binary in 2 fragments', { rfc: '§5.4', ...roundTrip(fragments(OP.BINARY, [[0, 1, 2], [0xfd, 0xfe, 0xff]]), [B([0, 1, 2, 0xfd, 0xfe, 0xff])]) }),
    def('5.4', 'text in 2 fragments with a ping between → pong, then the message', {
      rfc: '§5.4, §5.5',
      autobahn: '5.6',
      ...roundTrip([text('fragment1', { fin: false }), ping('pongme 2!'), cont('fragment2')], [P('pongme 2!'), T('fragment1fragment2')]),
    }),
    def('5.5', 'text in 2 fragments with a ping between, 1-byte chunks', {
      rfc: '§5.4, §5.5',
      autobahn: '5.7',
      ...roundTrip([text('fragment1', { fin: false }), ping('pongme 2!'), cont('fragment2')], [P('pongme 2!'), T('fragment1fragment2')], { size: 1 }),
    }),
    def('5.6', 'text in 2 fragments with a ping between, one write per frame', {
      rfc: '§5.4, §5.5',
      autobahn: '5.8',
      ...roundTrip([text('fragment1', { fin: false }), ping('pongme 2!'), cont('fragment2')], [P('pongme 2!'), T('fragment1fragment2')], 'frames'),
    }),
    def('5.7', 'text in 5 fragments, pings between, waiting for each pong mid-message', {
      rfc: '§5.4, §5.5',
      autobahn: '5.19',
      steps: [
        send(text('fragment1', { fin: false }), cont('fragment2', { fin: false }), ping('pongme 1!')),
        waitReplies(1),
        send(cont('fragment3', { fin: false }), cont('fragment4', { fin: false }), ping('pongme 2!')),
        waitReplies(2),
        send(cont('fragment5')),
        waitReplies(3),
        send(close(1000)),
      ],
      replies: [P('pongme 1!'), P('pongme 2!'), T('fragment1fragment2fragment3fragment4fragment5')],
      close: echo(1000),
    }),
    def('5.8', 'text in 10 fragments, a ping after each but the last', {
      rfc: '§5.4, §5.5',
      ...roundTrip(
        fragments(OP.TEXT, tenFragments).flatMap((f, i) => (i < 9 ? [f, ping(`ping ${i}`)] : [f])),
        [...tenFragments.slice(0, 9).map((_, i) => P(`ping ${i}`)), T(tenFragments.join(''))],
      ),
    }),
    def('5.9', 'binary in 100 fragments', { rfc: '§5.4', ...roundTrip(fragments(OP.BINARY, hundredFragments), [B(binaryPayload(1000))]) }),
    def('5.10', 'continuation (FIN) without a message to continue → 1002', { rfc: '§5.4', autobahn: '5.9', ...violation([cont('non-continuation payload')], 1002) }),
    def('5.11', 'continuation (FIN) without a message to continue, 1-byte chunks → 1002', {
      rfc: '§5.4',
      autobahn: '5.10',
      ...violation([cont('non-continuation payload')], 1002, { size: 1 }),
    }),
    def('5.12', 'continuation (no FIN) without a message to continue → 1002', {
      rfc: '§5.4',
      autobahn: '5.12',
      ...violation([cont('non-continuation payload', { fin: false })], 1002),
    }),
    def('5.13', 'continuation after a complete message → 1002', { rfc: '§5.4', autobahn: '5.15', ...afterValid([cont('fragment4')], 1002) }),
    def('5.14', 'new text frame inside a fragmented text message → 1002', {
      rfc: '§5.4',
      autobahn: '5.18',
      ...afterValid([text('fragment1', { fin: false }), text('fragment2')], 1002),
    }),
    def('5.15', 'new binary frame inside a fragmented text message → 1002', {
      rfc: '§5.4',
      ...afterValid([text('fragment1', { fin: false }), binary('fragment2')], 1002),
    }),
    def('5.16', 'fragmented text with empty fragments (first, middle, last)', {
      rfc: '§5.4',
      ...roundTrip(fragments(OP.TEXT, ['', 'Hello', '', ', world', '']), [T('Hello, world')]),
    }),
    def('5.17', 'fragmented binary made of 3 empty fragments', { rfc: '§5.4', ...roundTrip(fragments(OP.BINARY, ['', '', '']), [B([])]) }),
    def('5.18', 'text in 1-byte fragments', { rfc: '§5.4', ...roundTrip(fragments(OP.TEXT, [...'Hello, world!']), [T('Hello, world!')]) }),
    def('5.19', 'binary in 1-byte fragments, 1-byte chunks', {
      rfc: '§5.4',
      ...roundTrip(fragments(OP.BINARY, pieces(binaryPayload(16), 1)), [B(binaryPayload(16))], { size: 1 }),
    }),
  ],
};

// ---------------------------------------------------------------- 6 UTF-8

/**
 * Valid text, each echoed whole. The third column is the section of Markus
 * Kuhn's UTF-8 decoder stress test, which Autobahn 6.7-6.23 replays.
 */
const VALID_UTF8: Array<[string, Buffer, string?]> = [
  ['κόσμε (2- and 3-byte sequences)', KOSME, '1'],
  ['U+0080, first 2-byte sequence', hex('c2 80'), '2.1.2'],
  ['U+07FF, last 2-byte sequence', hex('df bf'), '2.2.2'],
  ['U+0800, first 3-byte sequence', hex('e0 a0 80'), '2.1.3'],
  ['U+D7FF, last code point before the surrogates', hex('ed 9f bf'), '2.3.1'],
  ['U+E000, first code point after the surrogates', hex('ee 80 80'), '2.3.2'],
  ['U+FFFD, replacement character', hex('ef bf bd'), '2.3.3'],
  ['U+FEFF, byte order mark', hex('ef bb bf')],
  ['U+FFFE and U+FFFF, noncharacters', hex('ef bf be ef bf bf'), '5.3.1-2'],
  ['U+FDD0, noncharacter', hex('ef b7 90'), '5.3.3'],
  ['U+10000, first 4-byte sequence', hex('f0 90 80 80'), '2.1.4'],
  ['U+1F600 and U+1D11E, 4-byte sequences', hex('f0 9f 98 80 f0 9d 84 9e')],
  ['U+10FFFF, last code point', hex('f4 8f bf bf'), '2.3.4'],
  ['mixed 1- to 4-byte text', Buffer.from('Hello-µ@ßöäüàá-UTF-8!! € 汉字 ☃ 😀 𝄞', 'utf8')],
];

/** Invalid text, each sent whole in one frame → 1007 (third column: Kuhn's section, as above). */
const INVALID_UTF8: Array<[string, Buffer, string?]> = [
  ['κόσμε, a surrogate, "edited"', Buffer.concat([KOSME, hex('ed a0 80'), Buffer.from('edited')])],
  ['lone continuation byte 0x80', hex('80'), '3.1.1'],
  ['lone continuation byte 0xbf', hex('bf'), '3.1.2'],
  ['two continuation bytes', hex('80 bf'), '3.1.3'],
  ['all 64 continuation bytes', Buffer.from(Array.from({ length: 64 }, (_, i) => 0x80 + i)), '3.1.9'],
  ['2-byte start byte followed by a space', hex('c2 20'), '3.2.1'],
  ['3-byte start byte followed by a space', hex('e0 20'), '3.2.2'],
  ['4-byte start byte followed by a space', hex('f0 20'), '3.2.3'],
  ['2-byte sequence missing its last byte', hex('df'), '3.3.6'],
  ['3-byte sequence missing its last byte', hex('ef bf'), '3.3.7'],
  ['4-byte sequence missing its last byte', hex('f0 90 80')],
  ['text ending in a truncated 4-byte sequence', Buffer.concat([Buffer.from('Hello '), hex('f0 9f 98')])],
  ['byte 0xfe', hex('fe'), '3.5.1'],
  ['byte 0xff', hex('ff'), '3.5.2'],
  ['bytes fe fe ff ff', hex('fe fe ff ff'), '3.5.3'],
  ['overlong "/" in 2 bytes (c0 af)', hex('c0 af'), '4.1.1'],
  ['overlong "/" in 3 bytes', hex('e0 80 af'), '4.1.2'],
  ['overlong "/" in 4 bytes', hex('f0 80 80 af'), '4.1.3'],
  ['maximal overlong 2-byte sequence (c1 bf)', hex('c1 bf'), '4.2.1'],
  ['maximal overlong 3-byte sequence', hex('e0 9f bf'), '4.2.2'],
  ['maximal overlong 4-byte sequence', hex('f0 8f bf bf'), '4.2.3'],
  ['overlong NUL (c0 80)', hex('c0 80'), '4.3.1'],
  ['5-byte sequence', hex('f8 88 80 80 80'), '2.1.5'],
  ['6-byte sequence', hex('fc 84 80 80 80 80'), '2.1.6'],
  ['U+110000 (f4 90 80 80), above the last code point', hex('f4 90 80 80'), '2.3.5'],
  ['start byte 0xf5', hex('f5 80 80 80')],
  ['start byte 0xf7 (U+1FFFFF)', hex('f7 bf bf bf'), '2.2.4'],
  ['surrogate U+D800', hex('ed a0 80'), '5.1.1'],
  ['surrogate U+DB7F', hex('ed ad bf'), '5.1.2'],
  ['surrogate U+DC00', hex('ed b0 80'), '5.1.5'],
  ['surrogate U+DFFF', hex('ed bf bf'), '5.1.7'],
  ['surrogate pair U+D800 U+DC00', hex('ed a0 80 ed b0 80'), '5.2.1'],
  ['valid text, then a lone continuation byte', Buffer.concat([Buffer.from(HELLO_UTF8), hex('80')])],
];

/**
 * Fail-fast payloads (Autobahn 6.4): κόσμε, then f4 90 80 80 (0x110000, out
 * of range: invalid at its second byte), then "edited". The invalid byte must
 * be caught when it arrives, not when the message is complete.
 */
const FAST = Buffer.concat([KOSME, hex('f4 90 80 80'), Buffer.from('edited')]);
const fastFrame = text(FAST);
const fastFirst = [text(Buffer.concat([KOSME, hex('f4 90 80 80')]), { fin: false }), cont('edited', { fin: false }), cont('edited')];
const fastSecond = [text(KOSME, { fin: false }), cont(hex('f4 90 80 80'), { fin: false }), cont('edited')];

const helloBytes = Buffer.from(HELLO_UTF8, 'utf8');
const emoji = hex('f0 9f 98 80');

const utf8: Section = {
  id: '6',
  title: 'UTF-8 handling',
  rfc: '§5.6, §8.1',
  cases: [
    def('6.1.1', 'empty text message', { rfc: '§5.6', autobahn: '6.1.1', ...roundTrip([text('')], [T('')]) }),
    def('6.1.2', 'empty text message in 3 empty fragments', { rfc: '§5.4, §5.6', autobahn: '6.1.2', ...roundTrip(fragments(OP.TEXT, ['', '', '']), [T('')]) }),
    def('6.1.3', 'text in 3 fragments, the first and last empty', { rfc: '§5.4, §5.6', autobahn: '6.1.3', ...roundTrip(fragments(OP.TEXT, ['', 'middle frame payload', '']), [T('middle frame payload')]) }),
    def('6.2.1', `"${HELLO_UTF8}" in one frame`, { rfc: '§5.6', autobahn: '6.2.1', ...roundTrip([text(helloBytes)], [T(helloBytes)]) }),
    def('6.2.2', `"${HELLO_UTF8}" in 2 fragments split at a code point boundary`, {
      rfc: '§5.4, §8.1',
      autobahn: '6.2.2',
      ...roundTrip(fragments(OP.TEXT, [helloBytes.subarray(0, 11), helloBytes.subarray(11)]), [T(helloBytes)]),
    }),
    def('6.2.3', `"${HELLO_UTF8}" in 1-byte fragments (sequences split across fragments)`, {
      rfc: '§5.4, §8.1',
      autobahn: '6.2.3',
      ...roundTrip(fragments(OP.TEXT, pieces(helloBytes, 1)), [T(helloBytes)]),
    }),
    def('6.2.4', 'κόσμε in 1-byte fragments', { rfc: '§5.4, §8.1', autobahn: '6.2.4', ...roundTrip(fragments(OP.TEXT, pieces(KOSME, 1)), [T(KOSME)]) }),
    def('6.2.5', 'a 4-byte sequence split 1 + 3 and 2 + 2 across fragments', {
      rfc: '§5.4, §8.1',
      ...roundTrip(fragments(OP.TEXT, [emoji.subarray(0, 1), Buffer.concat([emoji.subarray(1), emoji.subarray(0, 2)]), emoji.subarray(2)]), [T(Buffer.concat([emoji, emoji]))]),
    }),
    def('6.2.6', 'multi-byte text in one frame, 1-byte chunks', {
      rfc: '§8.1',
      ...roundTrip([text(VALID_UTF8[13]![1])], [T(VALID_UTF8[13]![1])], { size: 1 }),
    }),
    ...VALID_UTF8.map(([name, bytes, kuhn], i) =>
      def(`6.3.${i + 1}`, `valid: ${name}${kuhn ? ` (Kuhn ${kuhn})` : ''}`, { rfc: '§5.6, §8.1', autobahn: i === 0 ? '6.5.1' : undefined, ...roundTrip([text(bytes)], [T(bytes)]) }),
    ),
    def('6.4.1', 'fail fast: invalid byte in the 1st of 3 fragments → 1007 before the rest is sent', {
      rfc: '§8.1, §7.1.7',
      steps: [send(fastFirst[0]!), waitClose(), send(fastFirst[1]!, fastFirst[2]!)],
      close: fail(1007),
    }),
    def('6.4.2', 'fail fast: invalid 2nd of 3 fragments → 1007 before the 3rd is sent', {
      rfc: '§8.1, §7.1.7',
      autobahn: '6.4.1',
      steps: [send(fastSecond[0]!, fastSecond[1]!), waitClose(), send(fastSecond[2]!)],
      close: fail(1007),
    }),
    def('6.4.3', 'fail fast: invalid byte in the 1st of 3 TCP chunks of one frame → 1007 before the rest is sent', {
      rfc: '§8.1, §7.1.7',
      // Chunk 1: header, κόσμε, f4 90 (invalid here); chunk 2: 80 80; chunk 3: "edited".
      steps: [sendPart(fastFrame, 0, 13), waitClose(), sendPart(fastFrame, 13, 15), sendPart(fastFrame, 15)],
      close: fail(1007),
    }),
    def('6.4.4', 'fail fast: invalid byte in the 2nd of 3 TCP chunks of one frame → 1007 before the 3rd is sent', {
      rfc: '§8.1, §7.1.7',
      autobahn: '6.4.2',
      // Chunk 1: header, κόσμε, f4 (valid so far); chunk 2: 90 (invalid); chunk 3: 80 80 "edited".
      steps: [sendPart(fastFrame, 0, 12), sendPart(fastFrame, 12, 13), waitClose(), sendPart(fastFrame, 13)],
      close: fail(1007),
    }),
    ...INVALID_UTF8.map(([name, bytes, kuhn], i) =>
      def(`6.5.${i + 1}`, `invalid: ${name}${kuhn ? ` (Kuhn ${kuhn})` : ''} → 1007`, { rfc: '§8.1', autobahn: i === 0 ? '6.3.1' : undefined, ...violation([text(bytes)], 1007) }),
    ),
    def('6.6.1', 'invalid: a surrogate split across fragments → 1007', { rfc: '§8.1', ...violation(fragments(OP.TEXT, ['Hello ', hex('ed'), hex('a0 80'), ' world']), 1007) }),
    def('6.6.2', 'invalid: a fragmented message ending inside a 4-byte sequence → 1007', {
      rfc: '§8.1',
      ...violation(fragments(OP.TEXT, ['Hello ', hex('f0 9f'), hex('98')]), 1007),
    }),
    def('6.6.3', 'invalid: bad byte in the last of 3 fragments → 1007', { rfc: '§8.1', ...violation(fragments(OP.TEXT, [KOSME, KOSME, Buffer.concat([KOSME, hex('ff')])]), 1007) }),
    def('6.6.4', 'invalid: κόσμε, a surrogate, "edited" in 1-byte fragments → 1007', {
      rfc: '§8.1',
      autobahn: '6.3.2',
      ...violation(fragments(OP.TEXT, pieces(INVALID_UTF8[0]![1], 1)), 1007),
    }),
    def('6.6.5', 'invalid: one frame ending inside a sequence, 1-byte chunks → 1007', {
      rfc: '§8.1',
      ...violation([text(Buffer.concat([Buffer.from('Hello '), hex('e2 82')]))], 1007, { size: 1 }),
    }),
    def('6.6.6', 'invalid: κόσμε, a surrogate, "edited" in one frame, 1-byte chunks → 1007', {
      rfc: '§8.1',
      ...violation([text(INVALID_UTF8[0]![1])], 1007, { size: 1 }),
    }),
  ],
};

// ---------------------------------------------------------------- 7 close

const ALLOWED_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
const FORBIDDEN_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000];
/** Autobahn's case for each code (7.7.x valid, 7.9.x invalid, 7.13.x out of range). */
const AUTOBAHN_CLOSE_CASE: Record<number, string> = {
  1000: '7.7.1', 1001: '7.7.2', 1002: '7.7.3', 1003: '7.7.4', 1007: '7.7.5', 1008: '7.7.6', 1009: '7.7.7', 1010: '7.7.8', 1011: '7.7.9',
  3000: '7.7.10', 3999: '7.7.11', 4000: '7.7.12', 4999: '7.7.13',
  0: '7.9.1', 999: '7.9.2', 1004: '7.9.3', 1005: '7.9.4', 1006: '7.9.5', 1016: '7.9.6', 1100: '7.9.7', 2000: '7.9.8', 2999: '7.9.9', 5000: '7.13.1',
};

const closing: Section = {
  id: '7',
  title: 'Close handling',
  rfc: '§5.5.1, §7',
  cases: [
    def('7.1.1', 'message echoed, then a clean close', { rfc: '§5.5.1, §7.1.2', autobahn: '7.1.1', ...roundTrip([text('Hello World!')], [T('Hello World!')]) }),
    def('7.1.2', 'close sent twice: the second is ignored', { rfc: '§5.5.1', autobahn: '7.1.2', steps: [send(close(1000), close(1000))], close: echo(1000) }),
    def('7.1.3', 'ping after close: not answered', { rfc: '§5.5.1', autobahn: '7.1.3', steps: [send(close(1000), ping('Hello World!'))], close: echo(1000) }),
    def('7.1.4', 'text after close: ignored', { rfc: '§5.5.1', autobahn: '7.1.4', steps: [send(close(1000), text('Hello World!'))], close: echo(1000) }),
    def('7.1.5', 'close inside a fragmented message: the close is echoed, the message dropped', {
      rfc: '§5.4, §5.5.1',
      autobahn: '7.1.5',
      steps: [send(text('fragment1', { fin: false }), close(1000), cont('fragment2'))],
      close: echo(1000),
    }),
    def('7.1.6', 'clean close with a reason; the server closes TCP first', { rfc: '§7.1.1, §5.5.1', steps: [send(close(1000, 'bye'))], close: echo(1000) }),
    def('7.3.1', 'empty close → empty close echoed', { rfc: '§5.5.1', autobahn: '7.3.1', steps: [send(close())], close: echo(null) }),
    def('7.3.2', 'close with a 1-byte payload → 1002', { rfc: '§5.5.1', autobahn: '7.3.2', steps: [send(frame(OP.CLOSE, [0x03]))], close: fail(1002) }),
    def('7.3.3', 'close 1000 without a reason', { rfc: '§5.5.1', autobahn: '7.3.3', steps: [send(close(1000))], close: echo(1000) }),
    def('7.3.4', 'close 1000 with a reason', { rfc: '§5.5.1', autobahn: '7.3.4', steps: [send(close(1000, 'Hello World!'))], close: echo(1000) }),
    def('7.3.5', 'close 1000 with a 123-byte reason (125-byte payload)', { rfc: '§5.5', autobahn: '7.3.5', steps: [send(close(1000, '*'.repeat(123)))], close: echo(1000) }),
    def('7.3.6', 'close 1000 with a 124-byte reason (126-byte payload) → 1002', {
      rfc: '§5.5',
      autobahn: '7.3.6',
      steps: [send(close(1000, '*'.repeat(124)))],
      close: fail(1002),
    }),
    def('7.5.1', 'close reason that is not UTF-8 → 1007', {
      rfc: '§5.5.1, §8.1',
      autobahn: '7.5.1',
      steps: [send(close(1000, Buffer.concat([KOSME, hex('ed a0 80'), Buffer.from('edited')])))],
      close: fail(1007),
    }),
    ...ALLOWED_CODES.map((code, i) =>
      def(`7.7.${i + 1}`, `close code ${code} is echoed`, { rfc: '§7.4.1, §7.4.2', autobahn: AUTOBAHN_CLOSE_CASE[code], steps: [send(close(code))], close: echo(code) }),
    ),
    ...FORBIDDEN_CODES.map((code, i) =>
      def(`7.9.${i + 1}`, `close code ${code} may not be sent → 1002`, { rfc: '§7.4.1, §7.4.2', autobahn: AUTOBAHN_CLOSE_CASE[code], steps: [send(close(code))], close: fail(1002) }),
    ),
  ],
};

// ---------------------------------------------------------------- 9 limits and large messages

const big = {
  text1M: textPayload(MIB),
  binary1M: binaryPayload(MIB),
  text4M: textPayload(4 * MIB),
  binary4M: binaryPayload(4 * MIB),
  text16M: textPayload(16 * MIB),
  binary16M: binaryPayload(16 * MIB),
  text64K: textPayload(64 * KIB),
  binary64K: binaryPayload(64 * KIB),
};
const BIG_WAIT = 30_000;
const BIG_TIMEOUT = 45_000;

const limits: Section = {
  id: '9',
  title: 'Limits and large messages',
  rfc: '§5.4, §10.4',
  cases: [
    def('9.1.1', 'text message of 1 MiB', { rfc: '§10.4', autobahn: '9.1.3', timeout: BIG_TIMEOUT, ...roundTrip([text(big.text1M)], [T(big.text1M)], 'whole', BIG_WAIT) }),
    def('9.1.2', 'text message of 16 MiB (the limit)', { rfc: '§10.4', autobahn: '9.1.6', timeout: BIG_TIMEOUT, ...roundTrip([text(big.text16M)], [T(big.text16M)], 'whole', BIG_WAIT) }),
    def('9.2.1', 'binary message of 1 MiB', { rfc: '§10.4', autobahn: '9.2.3', timeout: BIG_TIMEOUT, ...roundTrip([binary(big.binary1M)], [B(big.binary1M)], 'whole', BIG_WAIT) }),
    def('9.2.2', 'binary message of 16 MiB (the limit)', {
      rfc: '§10.4',
      autobahn: '9.2.6',
      timeout: BIG_TIMEOUT,
      ...roundTrip([binary(big.binary16M)], [B(big.binary16M)], 'whole', BIG_WAIT),
    }),
    def('9.3.1', 'text message of 4 MiB in 64 KiB fragments', {
      rfc: '§5.4',
      autobahn: '9.3.6',
      timeout: BIG_TIMEOUT,
      ...roundTrip(fragments(OP.TEXT, pieces(big.text4M, 64 * KIB)), [T(big.text4M)], 'whole', BIG_WAIT),
    }),
    def('9.4.1', 'binary message of 4 MiB in 4 KiB fragments', {
      rfc: '§5.4',
      autobahn: '9.4.4',
      timeout: BIG_TIMEOUT,
      ...roundTrip(fragments(OP.BINARY, pieces(big.binary4M, 4 * KIB)), [B(big.binary4M)], 'whole', BIG_WAIT),
    }),
    def('9.5.1', 'text message of 1 MiB in 1 KiB TCP chunks', {
      rfc: '§5.2',
      autobahn: '9.5.5',
      timeout: BIG_TIMEOUT,
      ...roundTrip([text(big.text1M)], [T(big.text1M)], { size: KIB }, BIG_WAIT),
    }),
    def('9.6.1', 'binary message of 1 MiB in 2 KiB TCP chunks', {
      rfc: '§5.2',
      autobahn: '9.6.6',
      timeout: BIG_TIMEOUT,
      ...roundTrip([binary(big.binary1M)], [B(big.binary1M)], { size: 2 * KIB }, BIG_WAIT),
    }),
    def('9.7.1', 'text message of 65 536 one-byte fragments (maxFragments 65 536)', {
      rfc: '§5.4, §10.4',
      timeout: BIG_TIMEOUT,
      ...roundTrip(fragments(OP.TEXT, pieces(big.text64K, 1)), [T(big.text64K)], 'whole', BIG_WAIT),
    }),
    def('9.7.2', 'binary message of 65 536 one-byte fragments (maxFragments 65 536)', {
      rfc: '§5.4, §10.4',
      timeout: BIG_TIMEOUT,
      ...roundTrip(fragments(OP.BINARY, pieces(big.binary64K, 1)), [B(big.binary64K)], 'whole', BIG_WAIT),
    }),
    def('9.8.1', 'frame header declaring 16 MiB + 1 → 1009 before the payload is sent', {
      rfc: '§10.4, §7.4.1',
      steps: [send(binary('first bytes', { lengthField: [127, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x01] })), waitClose()],
      close: fail(1009),
    }),
    def('9.8.2', 'message of 65 537 fragments (maxFragments 65 536) → 1009', {
      rfc: '§10.4, §7.4.1',
      timeout: BIG_TIMEOUT,
      ...violation(fragments(OP.BINARY, pieces(binaryPayload(65537), 1)), 1009),
    }),
    def('9.9.1', 'small limits: binary message of exactly 64 KiB is echoed', {
      rfc: '§10.4',
      limits: 'small',
      ...roundTrip([binary(big.binary64K)], [B(big.binary64K)]),
    }),
    def('9.9.2', 'small limits: text message of 64 KiB + 1 → 1009', {
      rfc: '§10.4, §7.4.1',
      limits: 'small',
      ...violation([text(textPayload(64 * KIB + 1))], 1009),
    }),
    def('9.9.3', 'small limits: 1 MiB binary message → 1009', {
      rfc: '§10.4, §7.4.1',
      limits: 'small',
      ...violation([binary(big.binary1M)], 1009),
    }),
    def('9.9.4', 'small limits: fragments adding up to 64 KiB + 1 → 1009', {
      rfc: '§10.4, §7.4.1',
      limits: 'small',
      ...violation(fragments(OP.TEXT, [textPayload(32 * KIB), textPayload(32 * KIB), 'x']), 1009),
    }),
    def('9.9.5', 'small limits: message of 16 fragments (maxFragments 16) is echoed', {
      rfc: '§5.4, §10.4',
      limits: 'small',
      ...roundTrip(fragments(OP.TEXT, pieces(textPayload(16), 1)), [T(textPayload(16))]),
    }),
    def('9.9.6', 'small limits: message of 17 fragments → 1009', {
      rfc: '§10.4, §7.4.1',
      limits: 'small',
      ...violation(fragments(OP.TEXT, pieces(textPayload(17), 1)), 1009),
    }),
  ],
};

// ---------------------------------------------------------------- 10 misc

const burstText = Array.from({ length: 1000 }, (_, i) => `message ${i}`);
const burstMixed = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? text(`message ${i}`) : binary(Buffer.from(`message ${i}`))));

const misc: Section = {
  id: '10',
  title: 'Miscellaneous',
  rfc: '§5.6, §6',
  cases: [
    def('10.1.1', '1000 text messages in one write, echoed in order', {
      rfc: '§6.2',
      ...roundTrip(burstText.map((m) => text(m)), burstText.map((m) => T(m)), 'whole', 15_000),
    }),
    def('10.1.2', '1000 alternating text and binary messages, one write each, echoed in order', {
      rfc: '§6.2',
      ...roundTrip(burstMixed, burstMixed.map((f) => (f.opcode === OP.TEXT ? T(f.payload) : B(f.payload))), 'frames', 15_000),
    }),
  ],
};

export const SECTIONS: Section[] = [framing, pingPong, reservedBits, opcodes, fragmentation, utf8, closing, limits, misc];

/** Every case, in table order. */
export const CASES: ConformanceCase[] = SECTIONS.flatMap((section) => section.cases);
