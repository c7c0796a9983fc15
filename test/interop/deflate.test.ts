// permessage-deflate interop through real sockets: Chromium and Python websockets (both offer or accept
// compression by default) against our server, and our client against Python websockets.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { WebSocket } from '../../src/node/client.js';
import { WebSocketServer } from '../../src/node/server.js';
import { chromiumStatus, launchChromium, PYTHON_PATH, pythonWebsocketsStatus, requirePeer } from './peers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/python_deflate.py', import.meta.url));

async function echoServer(): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 0, perMessageDeflate: true, maxMessageSize: 16 << 20 });
  await wss.ready();
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return wss;
}

describe('Chromium with our server', () => {
  const chromium = chromiumStatus();
  const options = requirePeer('chromium', chromium.available, chromium.reason);

  it('negotiates permessage-deflate and round-trips small, large and fragmented-size messages', options, async () => {
    const wss = await echoServer();
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const result = await page.evaluate(async (url: string) => {
        const socket = new WebSocket(url);
        socket.binaryType = 'arraybuffer';
        await new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = reject;
        });
        let text = '';
        for (let i = 0; text.length < 1_200_000; i++) text += `{"id":${i},"name":"item-${i % 50}","ok":true},`;
        const sent: Array<string | Uint8Array> = ['Hello', text.slice(0, 3000), text, new Uint8Array(Array.from({ length: 256 }, (_, i) => i)), 'héllo €𝄞'];
        const echoed: boolean[] = [];
        for (const message of sent) {
          const reply = new Promise<string | ArrayBuffer>((resolve) => (socket.onmessage = (event) => resolve(event.data as string | ArrayBuffer)));
          socket.send(message);
          const data = await reply;
          echoed.push(typeof message === 'string' ? data === message : new Uint8Array(data as ArrayBuffer).join() === message.join());
        }
        socket.close(1000);
        return { extensions: socket.extensions, echoed };
      }, `ws://127.0.0.1:${wss.port}/`);
      assert.match(result.extensions, /^permessage-deflate/);
      assert.deepEqual(result.echoed, [true, true, true, true, true]);
    } finally {
      await browser.close();
      await wss.close();
    }
  });
});

describe('Python websockets', () => {
  const python = pythonWebsocketsStatus();
  const options = requirePeer('python-websockets', python.available, python.reason);

  it('as a client of our server: deflate negotiated, every echo identical', options, async () => {
    const wss = await echoServer();
    try {
      const { stdout } = await promisify(execFile)(PYTHON_PATH, [FIXTURE, 'client', `ws://127.0.0.1:${wss.port}/`], { timeout: 30_000 });
      const result = JSON.parse(stdout) as { extensions: string; echoed: boolean[] };
      assert.equal(result.extensions, 'permessage-deflate');
      assert.deepEqual(result.echoed, [true, true, true, true, true]);
    } finally {
      await wss.close();
    }
  });

  it('as a server for our client: deflate negotiated, every echo identical', options, async () => {
    const child = spawn(PYTHON_PATH, [FIXTURE, 'server'], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      const { port } = JSON.parse(line) as { port: number };
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`, [], { maxMessageSize: 16 << 20 });
      socket.binaryType = 'nodebuffer';
      await once(socket, 'open');
      assert.match(socket.extensions, /^permessage-deflate/);
      let text = '';
      for (let i = 0; text.length < 1_200_000; i++) text += `{"id":${i},"name":"item-${i % 50}","ok":true},`;
      for (const message of ['Hello', text.slice(0, 3000), text, Buffer.from(Array.from({ length: 256 }, (_, i) => i)), 'héllo €𝄞']) {
        const reply = once(socket, 'message');
        socket.send(message);
        const [event] = (await reply) as [MessageEvent];
        if (typeof message === 'string') assert.equal(event.data, message);
        else assert.ok((event.data as Buffer).equals(message));
      }
      socket.close(1000);
      await once(socket, 'close');
    } finally {
      child.stdin!.end();
      child.kill();
    }
  });
});
