// `switchboard echo` as users run it: the built bin, a real port, our client and a plain HTTP GET.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '../../src/node/client.js';
import { chromiumStatus, launchChromium, requirePeer } from '../interop/peers.js';

const BIN = 'dist/cli/main.js';

interface Running {
  child: ChildProcess;
  port: number;
}

async function startEcho(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'echo', '--port', '0', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for await (const chunk of child.stdout!) {
    output += String(chunk);
    const match = /listening on ws:\/\/[^:]+:(\d+)/.exec(output);
    if (match) return { child, port: Number(match[1]) };
  }
  throw new Error(`echo did not start: ${output}`);
}

async function stop(running: Running): Promise<number | null> {
  running.child.kill('SIGTERM');
  const [code] = await once(running.child, 'exit');
  return code as number | null;
}

async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

function open(url: string, protocols?: string[], options?: ConstructorParameters<typeof WebSocket>[2]): Promise<WebSocket> {
  const socket = new WebSocket(url, protocols, options);
  socket.binaryType = 'arraybuffer';
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error('connection failed'));
  });
}

function nextMessage(socket: WebSocket): Promise<string | ArrayBuffer> {
  return new Promise((resolve) => socket.addEventListener('message', (event) => resolve((event as MessageEvent).data), { once: true }));
}

describe('switchboard echo', () => {
  let echo: Running;
  before(async () => {
    echo = await startEcho(['--subprotocol', 'chat', '--subprotocol', 'superchat', '--max-message', '2m']);
  });
  after(async () => {
    assert.equal(await stop(echo), 0, 'SIGTERM shuts down cleanly');
  });

  it('echoes text and binary with their type, on any path', async () => {
    const socket = await open(`ws://127.0.0.1:${echo.port}/any/path?x=1`);
    const text = nextMessage(socket);
    socket.send('héllo €');
    assert.equal(await text, 'héllo €');
    const binary = nextMessage(socket);
    socket.send(new Uint8Array([0, 1, 255]));
    assert.deepEqual(new Uint8Array((await binary) as ArrayBuffer), new Uint8Array([0, 1, 255]));
    socket.close();
  });

  it('accepts a listed subprotocol when offered', async () => {
    const socket = await open(`ws://127.0.0.1:${echo.port}/`, ['superchat', 'other']);
    assert.equal(socket.protocol, 'superchat');
    socket.close();
  });

  it('takes --max-message: 2 MiB passes, one byte more closes with 1009', async () => {
    const socket = await open(`ws://127.0.0.1:${echo.port}/`, [], { maxMessageSize: 4 * 1024 * 1024 });
    const echoed = nextMessage(socket);
    socket.send(new Uint8Array(2 * 1024 * 1024));
    assert.equal(((await echoed) as ArrayBuffer).byteLength, 2 * 1024 * 1024);
    const closed = new Promise<CloseEvent>((resolve) => (socket.onclose = (event) => resolve(event as CloseEvent)));
    socket.send(new Uint8Array(2 * 1024 * 1024 + 1));
    assert.equal((await closed).code, 1009);
  });

  it('serves the page at / and 426 for other plain GETs', async () => {
    const page = await fetch(`http://127.0.0.1:${echo.port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Switchboard echo<\/title>/);
    const other = await fetch(`http://127.0.0.1:${echo.port}/echo`);
    assert.equal(other.status, 426);
    assert.equal(other.headers.get('upgrade'), 'websocket');
    await other.text();
  });
});

describe('the echo page in Chromium', () => {
  const chromium = chromiumStatus();
  const options = requirePeer('chromium', chromium.available, chromium.reason);

  it('opens a WebSocket, echoes text and binary, and closes cleanly', options, async () => {
    const echo = await startEcho([]);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${echo.port}/`);
      await page.waitForSelector('#status.open');
      await page.fill('#text', 'héllo €');
      await page.click('button[type=submit]');
      await page.fill('#text', 'AB');
      await page.click('#binary');
      await page.waitForFunction(() => document.querySelectorAll('li.in').length === 2);
      const received = await page.$$eval('li.in', (items) => items.map((item) => item.textContent).reverse());
      assert.deepEqual(received, ['← text: héllo €', '← binary (2 bytes): 41 42']);
      await page.click('#close');
      await page.waitForSelector('#status.closed');
      assert.match((await page.textContent('li.info')) ?? '', /closed: code 1000, reason "bye"$/);
    } finally {
      await browser.close();
      await stop(echo);
    }
  });
});

describe('switchboard command line', () => {
  it('prints help and exits 0', async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /switchboard <command>/);
    const echoHelp = await runCli(['echo', '--help']);
    assert.equal(echoHelp.code, 0);
    assert.match(echoHelp.stdout, /--max-fragments N/);
  });

  it('exits 2 with a message for usage errors', async () => {
    for (const args of [['nope'], ['echo', '--bogus'], ['echo', '--port', 'x'], ['echo', '--max-message', 'lots']]) {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, args.join(' '));
      assert.ok(stderr.length > 0);
    }
  });

  it('exits 1 and says what to do when the port is taken', async () => {
    const echo = await startEcho([]);
    const { code, stderr } = await runCli(['echo', '--port', String(echo.port)]);
    assert.equal(code, 1);
    assert.match(stderr, /pick another with --port/);
    await stop(echo);
  });
});
