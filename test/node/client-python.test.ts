/**
 * The Node client against a Python `websockets` (10.4) echo server, started
 * with /usr/bin/python3 from test/node/fixtures/python-echo.py.
 *
 * Skipped with a message when Python or its `websockets` package is missing,
 * unless SWITCHBOARD_REQUIRE_PEERS=1 (then the tests fail instead).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface, type Interface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from '../../src/node/client-index.js';
import { closed, messages, nextMessage, opened, recordUntilClose } from './client-helpers.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/python-echo.py', import.meta.url));

/** Why the Python peer cannot run here, or null when it can. */
function pythonUnavailable(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import websockets; print(websockets.__version__)'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} cannot run: ${probe.error.message}`;
  if (probe.status !== 0) return `${PYTHON} has no "websockets" package: ${probe.stderr.trim().split('\n').at(-1) ?? ''}`;
  return null;
}

const unavailable = pythonUnavailable();
const required = process.env.SWITCHBOARD_REQUIRE_PEERS === '1';
const skip = unavailable !== null && !required ? `Python websockets peer unavailable (${unavailable}); set SWITCHBOARD_REQUIRE_PEERS=1 to fail instead` : false;

interface ServerClosed {
  event: 'closed';
  code: number | null;
  reason: string;
  subprotocol: string | null;
}

/** The Python server process: its port and the JSON lines it prints. */
class PythonPeer {
  readonly port: number;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: ServerClosed[] = [];
  private waiter: ((event: ServerClosed) => void) | null = null;

  private constructor(child: ChildProcessWithoutNullStreams, lines: Interface, port: number) {
    this.child = child;
    this.lines = lines;
    this.port = port;
    lines.on('line', (line) => {
      const event = JSON.parse(line) as ServerClosed;
      if (this.waiter) {
        const resolve = this.waiter;
        this.waiter = null;
        resolve(event);
      } else {
        this.pending.push(event);
      }
    });
  }

  static async start(): Promise<PythonPeer> {
    const child = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const lines = createInterface({ input: child.stdout });
    const first = await Promise.race([
      once(lines, 'line').then(([line]) => String(line)),
      once(child, 'exit').then(([code]) => {
        throw new Error(`python echo server exited with ${String(code)}: ${stderr}`);
      }),
    ]);
    const port = Number(first);
    assert.ok(Number.isInteger(port) && port > 0, `unexpected first line "${first}"`);
    return new PythonPeer(child, lines, port);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The next connection-closed report of the server. */
  nextClosed(): Promise<ServerClosed> {
    const queued = this.pending.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** Closes stdin (the script exits on EOF) and waits for the process to end. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.lines.close();
  }
}

describe('client against Python websockets', { skip }, () => {
  let peer: PythonPeer;

  before(async () => {
    if (unavailable !== null) assert.fail(`SWITCHBOARD_REQUIRE_PEERS=1 but ${unavailable}`);
    peer = await PythonPeer.start();
  });
  after(async () => {
    await peer?.stop();
  });

  /** Opens a client, runs `body`, closes it and waits for the server's report. */
  async function session(body: (ws: WebSocket) => Promise<void>, protocols?: string | string[]): Promise<ServerClosed> {
    const ws = new WebSocket(peer.url, protocols);
    const done = closed(ws);
    await opened(ws);
    await body(ws);
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    await done;
    return peer.nextClosed();
  }

  test('text and multi-byte UTF-8', async () => {
    const samples = ['hello', '', 'h\u00e9llo', '\u65e5\u672c\u8a9e', '\u{1F600}\u{1F680}', 'e\u0301\u0000end'];
    await session(async (ws) => {
      const received = messages(ws, samples.length);
      for (const sample of samples) ws.send(sample);
      assert.deepEqual(await received, samples);
    });
  });

  test('binary with all 256 byte values keeps its type', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
    await session(async (ws) => {
      ws.binaryType = 'arraybuffer';
      ws.send(bytes);
      const data = await nextMessage(ws);
      assert.ok(data instanceof ArrayBuffer, 'binary comes back as binary');
      assert.ok(Buffer.from(data).equals(bytes));
      ws.send('text');
      assert.equal(await nextMessage(ws), 'text', 'text comes back as text');
    });
  });

  test('a 1 MiB message', async () => {
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    await session(async (ws) => {
      ws.binaryType = 'nodebuffer';
      ws.send(big);
      const data = await nextMessage(ws);
      assert.ok(Buffer.isBuffer(data) && data.equals(big));
    });
  });

  test('a burst of 1000 messages in order', async () => {
    await session(async (ws) => {
      const received = messages(ws, 1000);
      for (let i = 0; i < 1000; i++) ws.send(`#${i}`);
      assert.deepEqual(
        await received,
        Array.from({ length: 1000 }, (_, i) => `#${i}`),
      );
    });
  });

  test('subprotocol "chat" negotiated when offered, none otherwise', async () => {
    const report = await session(async (ws) => assert.equal(ws.protocol, 'chat'), ['other', 'chat']);
    assert.equal(report.subprotocol, 'chat');
    const plain = await session(async (ws) => assert.equal(ws.protocol, ''));
    assert.equal(plain.subprotocol, null);
  });

  test('client closes with a code and reason', async () => {
    const ws = new WebSocket(peer.url);
    const done = closed(ws);
    await opened(ws);
    ws.close(4000, 'client b\u00fce');
    const event = await done;
    assert.equal(event.code, 4000);
    assert.equal(event.reason, 'client b\u00fce');
    assert.equal(event.wasClean, true);
    const report = await peer.nextClosed();
    assert.equal(report.code, 4000);
    assert.equal(report.reason, 'client b\u00fce');
  });

  test('server closes with a code and reason on request', async () => {
    const ws = new WebSocket(peer.url);
    const record = recordUntilClose(ws);
    await opened(ws);
    ws.send('close:4001:bye');
    const { order, close } = await record;
    assert.deepEqual(order, ['open', 'close']);
    assert.equal(close.code, 4001);
    assert.equal(close.reason, 'bye');
    assert.equal(close.wasClean, true);
    const report = await peer.nextClosed();
    assert.equal(report.code, 4001);
  });
});
