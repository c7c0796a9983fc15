// The interop scenario matrix: what a client and a server do in each scenario,
// what each side reports, and the checks run on both reports. Every test file
// of test/interop/ runs this same table against one pair of peers, so each
// (scenario, pair) combination is one named test.
//
// The client half is `clientScenario`, written against the WHATWG WebSocket
// API only, self-contained (no imports, no outer variables), so that the very
// same code runs in Chromium (through page.evaluate, as source text) and in
// Node with undici's, ws's or Switchboard's `WebSocket`.
//
// The server half is selected by the request path (see SERVER_BEHAVIOURS);
// Switchboard's and ws's servers implement it in peers.ts, the Python server in
// fixtures/python_server.py. Each server reports what it saw per connection
// (the query's `id` names the connection).
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { request as httpRequest } from 'node:http';
import { it } from 'node:test';

// ------------------------------------------------------------------ reports

/** One message as seen by one side: type, size, CRC-32 of its bytes, and the text when short. */
export interface MessageSummary {
  binary: boolean;
  length: number;
  crc: number;
  /** The text of a text message of at most 200 UTF-8 bytes, else null. */
  text: string | null;
}

export interface CloseSummary {
  code: number;
  reason: string;
  /** null when the peer's API does not tell (ws's server). */
  wasClean: boolean | null;
}

/** What the client half saw. */
export interface ClientReport {
  opened: boolean;
  /** `ws.protocol` once open. */
  protocol: string;
  sent: MessageSummary[];
  received: MessageSummary[];
  /** `Object.prototype.toString` of every received `data` (checks binaryType 'arraybuffer'). */
  receivedTypes: string[];
  errors: number;
  close: CloseSummary | null;
  /** Set when a step failed or timed out: what was awaited. */
  failure: string | null;
}

/** What the server half saw on one connection. */
export interface ServerReport {
  id: string;
  path: string;
  protocol: string;
  messages: MessageSummary[];
  /** Pong payloads received, as UTF-8. */
  pongs: string[];
  close: CloseSummary | null;
  error: string | null;
}

export function summarize(data: string | Uint8Array, binary: boolean): MessageSummary {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return {
    binary,
    length: bytes.length,
    crc: crc32(bytes) >>> 0,
    text: binary || bytes.length > 200 ? null : Buffer.from(bytes).toString('utf8'),
  };
}

// ------------------------------------------------------------------ shared values

export const MIB = 1024 * 1024;
export const UTF8_SAMPLE = 'héllo €𝄞 日本'; // 2, 3 and 4-byte sequences
export const PING_PAYLOAD = 'are you there';
export const OFFERED_PROTOCOLS = ['chat.v2', 'chat'];
/** The server side of every pair speaks only this subprotocol. */
export const SERVER_PROTOCOLS = ['chat'];
export const BURST_COUNT = 500;

/**
 * Server behaviours, chosen by the request path. Any other path echoes.
 * - /echo: echo every message with its type.
 * - /server-close: close at once with 4002 "server bye".
 * - /ping: ping with PING_PAYLOAD; once the pong arrived, send the text "pong:<payload>"; echo otherwise.
 */
export const SERVER_BEHAVIOURS = ['/echo', '/server-close', '/ping'] as const;
export type ServerPath = (typeof SERVER_BEHAVIOURS)[number];

/** Node-side twins of the generators inside `clientScenario`, to check the bytes independently. */
export function expectedBinary256(): Buffer {
  return Buffer.from(Array.from({ length: 256 }, (_, i) => i));
}
export function expectedBigBinary(): Buffer {
  const bytes = Buffer.alloc(MIB);
  for (let i = 0; i < MIB; i++) bytes[i] = (i * 31 + (i >>> 11)) & 0xff;
  return bytes;
}
export function expectedBigText(): string {
  const unit = UTF8_SAMPLE + ' ';
  const unitBytes = Buffer.byteLength(unit);
  const repeat = Math.floor(MIB / unitBytes);
  return unit.repeat(repeat) + 'x'.repeat(MIB - repeat * unitBytes);
}

// ------------------------------------------------------------------ client half

/** The part of the WHATWG WebSocket API the client half uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}
export type WebSocketConstructorLike = new (url: string, protocols?: string | string[]) => WebSocketLike;

export type ClientStep =
  | 'text'
  | 'utf8'
  | 'binary-256'
  | 'binary-1mib'
  | 'text-1mib'
  | 'burst'
  | 'subprotocol'
  | 'ping'
  | 'client-close'
  | 'server-close';

export interface ClientScenarioArgs {
  url: string;
  step: ClientStep;
  protocols: string[] | null;
  timeoutMs: number;
}

/**
 * The client half of every scenario. SELF-CONTAINED: it runs in the browser
 * from its source text, so it may use nothing but its arguments and the
 * globals common to browsers and Node 20 (TextEncoder, Promise, timers...).
 * The generators below must stay in step with expectedBinary256/BigBinary/BigText.
 */
export async function clientScenario(WS: WebSocketConstructorLike, args: ClientScenarioArgs): Promise<ClientReport> {
  const MIB_ = 1024 * 1024;
  const SAMPLE = 'héllo €𝄞 日本';
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  const crcOf = (bytes: Uint8Array): number => {
    let c = 0xffffffff;
    for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const encoder = new TextEncoder();
  const summary = (data: string | Uint8Array): MessageSummary => {
    const binary = typeof data !== 'string';
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    return { binary, length: bytes.length, crc: crcOf(bytes), text: binary || bytes.length > 200 ? null : (data as string) };
  };

  const report: ClientReport = {
    opened: false,
    protocol: '',
    sent: [],
    received: [],
    receivedTypes: [],
    errors: 0,
    close: null,
    failure: null,
  };
  let waiting = 'nothing';
  let wake: (() => void) | null = null;
  const poke = (): void => {
    const resume = wake;
    wake = null;
    resume?.();
  };
  const until = async (what: string, condition: () => boolean): Promise<void> => {
    waiting = what;
    while (!condition()) {
      if (report.close !== null && what !== 'close event') throw new Error(`closed (${report.close.code} ${report.close.reason}) while waiting for ${what}`);
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };

  const ws = args.protocols ? new WS(args.url, args.protocols) : new WS(args.url);
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('open', () => {
    report.opened = true;
    report.protocol = ws.protocol;
    poke();
  });
  ws.addEventListener('message', (event: { data: unknown }) => {
    const data = event.data;
    report.receivedTypes.push(Object.prototype.toString.call(data));
    report.received.push(summary(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer)));
    poke();
  });
  ws.addEventListener('error', () => {
    report.errors++;
    poke();
  });
  ws.addEventListener('close', (event: { code: number; reason: string; wasClean: boolean }) => {
    report.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
    poke();
  });
  const send = (data: string | Uint8Array): void => {
    report.sent.push(summary(data));
    ws.send(data);
  };
  const closeAndWait = async (code: number, reason: string): Promise<void> => {
    ws.close(code, reason);
    await until('close event', () => report.close !== null);
  };

  const steps = async (): Promise<void> => {
    await until('open event', () => report.opened);
    switch (args.step) {
      case 'text':
        send('hello, switchboard');
        break;
      case 'utf8':
        send(SAMPLE);
        send('\u00e9'); // 2 bytes
        send('\u20ac'); // 3 bytes
        send('\u{1d11e}'); // 4 bytes
        break;
      case 'binary-256': {
        const bytes = new Uint8Array(256);
        for (let i = 0; i < 256; i++) bytes[i] = i;
        send(bytes);
        break;
      }
      case 'binary-1mib': {
        const bytes = new Uint8Array(MIB_);
        for (let i = 0; i < MIB_; i++) bytes[i] = (i * 31 + (i >>> 11)) & 0xff;
        send(bytes);
        break;
      }
      case 'text-1mib': {
        const unit = SAMPLE + ' ';
        const unitBytes = encoder.encode(unit).length;
        const repeat = Math.floor(MIB_ / unitBytes);
        send(unit.repeat(repeat) + 'x'.repeat(MIB_ - repeat * unitBytes));
        break;
      }
      case 'burst':
        for (let i = 0; i < 500; i++) send(i % 2 === 0 ? `burst ${i}` : encoder.encode(`burst ${i}`));
        break;
      case 'subprotocol':
        send(`protocol=${ws.protocol}`);
        break;
      case 'ping':
        await until('the server\'s "pong:" message', () => report.received.length >= 1);
        await closeAndWait(1000, 'done');
        return;
      case 'client-close':
        send('before close');
        await until('the echo', () => report.received.length >= 1);
        await closeAndWait(4001, 'client bye');
        return;
      case 'server-close':
        await until('close event', () => report.close !== null);
        return;
    }
    await until(`${report.sent.length} echoes`, () => report.received.length >= report.sent.length);
    await closeAndWait(1000, 'done');
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${args.timeoutMs} ms waiting for ${waiting}`)), args.timeoutMs);
  });
  try {
    await Promise.race([steps(), timeout]);
  } catch (error) {
    report.failure = String((error as Error)?.message ?? error);
    try {
      ws.close();
    } catch {
      // already closing
    }
  } finally {
    clearTimeout(timer);
  }
  return report;
}

// ------------------------------------------------------------------ peers

/** A client peer: runs the client half (and, against our server, the HTTP checks). */
export interface ClientPeer {
  readonly name: string;
  run(args: ClientScenarioArgs): Promise<ClientReport>;
  /** A plain HTTP GET of the WebSocket URL, with this peer's HTTP client when it has one. */
  httpGet?(httpUrl: string): Promise<HttpAnswer>;
  /** A WebSocket handshake with Sec-WebSocket-Version: 8. */
  wrongVersion?(httpUrl: string): Promise<HttpAnswer>;
}

export interface HttpAnswer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** Which HTTP client made the request. */
  via: string;
}

/** A server peer: serves the behaviours of SERVER_BEHAVIOURS and reports per connection. */
export interface ServerPeer {
  readonly name: string;
  /** ws://host:port (no path). */
  readonly url: string;
  /** Resolves with the report of connection `id` once it closed. */
  report(id: string, timeoutMs: number): Promise<ServerReport>;
  close(): Promise<void>;
}

/** Collects server reports by connection id, for peers.ts's server adapters. */
export class ReportBook {
  private readonly done = new Map<string, ServerReport>();
  private readonly waiters = new Map<string, (report: ServerReport) => void>();

  add(report: ServerReport): void {
    this.done.set(report.id, report);
    this.waiters.get(report.id)?.(report);
    this.waiters.delete(report.id);
  }

  wait(id: string, timeoutMs: number): Promise<ServerReport> {
    const ready = this.done.get(id);
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`the server reported no closed connection "${id}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, (report) => {
        clearTimeout(timer);
        resolve(report);
      });
    });
  }
}

// ------------------------------------------------------------------ the table

export interface Scenario {
  name: string;
  path: ServerPath;
  step: ClientStep;
  protocols?: string[];
  check(client: ClientReport, server: ServerReport): void;
}

function assertCleanRun(client: ClientReport, server: ServerReport): void {
  assert.equal(client.failure, null, `client: ${client.failure}`);
  assert.equal(client.opened, true, 'the client saw no open event');
  assert.equal(client.errors, 0, 'the client saw error events');
  assert.equal(server.error, null, `server: ${server.error}`);
}

/** Both directions: the server got what the client sent, the client got it back, same types. */
function assertEchoed(client: ClientReport, server: ServerReport): void {
  assert.deepEqual(server.messages, client.sent, 'the server received other messages than the client sent');
  assert.deepEqual(client.received, client.sent, 'the echoes differ from what the client sent');
  for (const [i, type] of client.receivedTypes.entries()) {
    assert.equal(type, client.received[i]!.binary ? '[object ArrayBuffer]' : '[object String]', `message ${i} arrived as ${type}`);
  }
}

function assertNormalClose(client: ClientReport, server: ServerReport): void {
  assert.deepEqual(client.close, { code: 1000, reason: client.close?.reason ?? '', wasClean: true }, 'client close event');
  assert.equal(server.close?.code, 1000, 'the server saw another close code');
  assert.equal(server.close?.reason, 'done', 'the server saw another close reason');
  if (server.close?.wasClean !== null) assert.equal(server.close?.wasClean, true, 'server: not a clean close');
}

function echoScenario(name: string, step: ClientStep, expected: (client: ClientReport) => void): Scenario {
  return {
    name,
    path: '/echo',
    step,
    check(client, server) {
      assertCleanRun(client, server);
      expected(client);
      assertEchoed(client, server);
      assertNormalClose(client, server);
      assert.equal(server.protocol, '', 'no subprotocol was offered');
      assert.equal(client.protocol, '');
    },
  };
}

export const SCENARIOS: Scenario[] = [
  echoScenario('text message, echoed', 'text', (client) => {
    assert.deepEqual(client.sent, [summarize('hello, switchboard', false)]);
  }),
  echoScenario('UTF-8 text with 2, 3 and 4-byte sequences', 'utf8', (client) => {
    assert.deepEqual(client.sent, [UTF8_SAMPLE, 'é', '€', '𝄞'].map((text) => summarize(text, false)));
    assert.deepEqual(client.sent.map((m) => m.length), [Buffer.byteLength(UTF8_SAMPLE), 2, 3, 4]);
  }),
  echoScenario('binary message with all 256 byte values', 'binary-256', (client) => {
    assert.deepEqual(client.sent, [summarize(expectedBinary256(), true)]);
  }),
  echoScenario('1 MiB binary message', 'binary-1mib', (client) => {
    assert.deepEqual(client.sent, [summarize(expectedBigBinary(), true)]);
  }),
  echoScenario('1 MiB text message', 'text-1mib', (client) => {
    const text = expectedBigText();
    assert.equal(Buffer.byteLength(text), MIB);
    assert.deepEqual(client.sent, [summarize(text, false)]);
  }),
  echoScenario(`burst of ${BURST_COUNT} messages, in order`, 'burst', (client) => {
    const expected = Array.from({ length: BURST_COUNT }, (_, i) => {
      const text = `burst ${i}`;
      return i % 2 === 0 ? summarize(text, false) : summarize(Buffer.from(text), true);
    });
    assert.deepEqual(client.sent, expected);
  }),
  {
    name: 'subprotocol negotiation: offered chat.v2, chat; server picks chat',
    path: '/echo',
    step: 'subprotocol',
    protocols: OFFERED_PROTOCOLS,
    check(client, server) {
      assertCleanRun(client, server);
      assert.equal(client.protocol, 'chat', 'client: protocol');
      assert.equal(server.protocol, 'chat', 'server: protocol');
      assert.deepEqual(client.sent, [summarize('protocol=chat', false)]);
      assertEchoed(client, server);
      assertNormalClose(client, server);
    },
  },
  {
    name: 'server ping answered by the client with a pong',
    path: '/ping',
    step: 'ping',
    check(client, server) {
      assertCleanRun(client, server);
      assert.deepEqual(server.pongs, [PING_PAYLOAD], 'the server saw no pong with its payload');
      assert.deepEqual(client.received, [summarize(`pong:${PING_PAYLOAD}`, false)]);
      assertNormalClose(client, server);
    },
  },
  {
    name: 'client closes with 4001 "client bye"',
    path: '/echo',
    step: 'client-close',
    check(client, server) {
      assertCleanRun(client, server);
      assert.equal(server.close?.code, 4001, 'server: close code');
      assert.equal(server.close?.reason, 'client bye', 'server: close reason');
      if (server.close?.wasClean !== null) assert.equal(server.close?.wasClean, true, 'server: wasClean');
      // The server echoes the code (RFC 6455 §5.5.1); the reason it sends back is its own business.
      assert.equal(client.close?.code, 4001, 'client: close code');
      assert.equal(client.close?.wasClean, true, 'client: wasClean');
    },
  },
  {
    name: 'server closes with 4002 "server bye"',
    path: '/server-close',
    step: 'server-close',
    check(client, server) {
      assertCleanRun(client, server);
      assert.deepEqual(client.close, { code: 4002, reason: 'server bye', wasClean: true }, 'client close event');
      assert.deepEqual(client.received, []);
      // The client's answer normally echoes 4002; any valid answer completes the handshake.
      assert.ok(server.close !== null, 'server: no close');
      if (server.close.wasClean !== null) assert.equal(server.close.wasClean, true, 'server: wasClean');
    },
  },
];

export const CLIENT_TIMEOUT_MS = 15_000;

let nextId = 0;

/** Test options: `skip` with a message when a peer is missing (see requirePeer in peers.ts). */
export interface PeerOptions {
  skip?: string;
}

/**
 * Registers one test per scenario for the pair; `pair()` is read when the
 * tests run (after `before`). `options.skip` skips every one of them.
 */
export function registerScenarios(pair: () => { client: ClientPeer; server: ServerPeer }, options: PeerOptions = {}): void {
  for (const scenario of SCENARIOS) {
    it(scenario.name, options, async () => {
      const { client, server } = pair();
      const id = `${scenario.step}-${++nextId}`;
      const url = `${server.url}${scenario.path}?id=${encodeURIComponent(id)}`;
      const clientReport = await client.run({ url, step: scenario.step, protocols: scenario.protocols ?? null, timeoutMs: CLIENT_TIMEOUT_MS });
      let serverReport: ServerReport;
      try {
        serverReport = await server.report(id, clientReport.opened ? 10_000 : 2_000);
      } catch (error) {
        assert.fail(`${(error as Error).message}; client report: ${JSON.stringify(brief(clientReport))}`);
      }
      try {
        scenario.check(clientReport, serverReport);
      } catch (error) {
        (error as Error).message += `\n  client ${client.name}: ${JSON.stringify(brief(clientReport))}\n  server ${server.name}: ${JSON.stringify(brief(serverReport))}`;
        throw error;
      }
    });
  }
}

/** A report cut down for failure messages (500-message bursts are long). */
function brief(report: ClientReport | ServerReport): object {
  const cut = <T>(list: T[]): Array<T | string> => (list.length > 6 ? [...list.slice(0, 3), `… ${list.length - 6} more …`, ...list.slice(-3)] : list);
  const short: Record<string, unknown> = { ...report };
  for (const [key, value] of Object.entries(short)) if (Array.isArray(value)) short[key] = cut(value);
  return short;
}

/** The HTTP checks against Switchboard's server, with the client peer's HTTP client where it has one. */
export function registerHttpScenarios(pair: () => { client: ClientPeer; httpUrl: string }, options: PeerOptions = {}): void {
  it('plain HTTP GET is refused with 426 and Upgrade: websocket', options, async () => {
    const { client, httpUrl } = pair();
    const answer = await (client.httpGet ?? nodeHttpGet)(httpUrl);
    assert.equal(answer.status, 426, `status (via ${answer.via})`);
    assert.equal(answer.headers['upgrade']?.toLowerCase(), 'websocket', `Upgrade header (via ${answer.via})`);
  });
  it('handshake with Sec-WebSocket-Version: 8 is refused with 426 and Sec-WebSocket-Version: 13', options, async () => {
    const { client, httpUrl } = pair();
    const answer = await (client.wrongVersion ?? nodeWrongVersion)(httpUrl);
    assert.equal(answer.status, 426, `status (via ${answer.via})`);
    assert.equal(answer.headers['sec-websocket-version'], '13', `Sec-WebSocket-Version header (via ${answer.via})`);
  });
}

// Node's own http client, for peers that have no HTTP client of their own (or cannot send such a request).

export function nodeHttpRequest(httpUrl: string, headers: Record<string, string>): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(httpUrl, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: lowerCaseHeaders(res.headers), via: 'node:http' }),
      );
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: lowerCaseHeaders(res.headers), via: 'node:http' });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5000 ms')));
    req.end();
  });
}

export function nodeHttpGet(httpUrl: string): Promise<HttpAnswer> {
  return nodeHttpRequest(httpUrl, {});
}

export function nodeWrongVersion(httpUrl: string): Promise<HttpAnswer> {
  return nodeHttpRequest(httpUrl, {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '8',
  });
}

export function lowerCaseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

