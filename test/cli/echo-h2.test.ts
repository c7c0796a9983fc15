// `switchboard echo --tls-cert --tls-key`: https and wss:// over HTTP/2 and
// HTTP/1.1 on one port, as users run it (the built bin). Our client and
// Chromium open WebSockets over h2 (RFC 8441); the server's log says so.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as http2Connect, type IncomingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '../../src/node/client.js';
import { launchChromium } from '../interop/peers.js';
import { chromiumPeer } from './browser-helpers.js';
import { closed, nextMessage, opened } from '../node/client-helpers.js';
import { selfSignedCertificate } from '../node/server-helpers.js';

const BIN = 'dist/cli/main.js';
const certificate = selfSignedCertificate();

describe('switchboard echo with TLS serves WebSockets over HTTP/2', () => {
  let child: ChildProcess | undefined;
  let port = 0;
  let output = '';
  let dir = '';

  async function logged(pattern: RegExp, count: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((output.match(new RegExp(pattern, 'g')) ?? []).length < count) {
      if (Date.now() > deadline) assert.fail(`log: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-echo-h2-'));
    writeFileSync(join(dir, 'cert.pem'), certificate.cert);
    writeFileSync(join(dir, 'key.pem'), certificate.key);
    child = spawn(process.execPath, [BIN, 'echo', '--port', '0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk) => (output += String(chunk)));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const match = /listening on wss:\/\/[^:]+:(\d+)\/ \(HTTP\/2 and HTTP\/1\.1\)/.exec(output);
      if (match) {
        port = Number(match[1]);
        break;
      }
      if (Date.now() > deadline) throw new Error(`echo did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  after(async () => {
    child?.kill('SIGTERM');
    if (child) await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  });

  it('our client: WebSockets over h2, the page over h2 too', async () => {
    const tls = { ca: certificate.cert };
    const ws = new WebSocket(`wss://localhost:${port}/echo`, undefined, { http2: true, tls });
    await opened(ws);
    ws.send('hi over h2');
    assert.equal(await nextMessage(ws), 'hi over h2');
    const done = closed(ws);
    ws.close(1000);
    assert.equal((await done).code, 1000);
    await logged(/connected \S+ \/echo over h2/, 1);

    const session = http2Connect(`https://localhost:${port}`, tls);
    try {
      const page = session.request({ ':path': '/' });
      const [headers] = (await once(page, 'response')) as [IncomingHttpHeaders];
      page.setEncoding('utf8');
      let body = '';
      for await (const chunk of page) body += chunk as string;
      assert.equal(headers[':status'], 200);
      assert.match(body, /<html|<!doctype/i);
      const other = session.request({ ':path': '/nothing' });
      const [refused] = (await once(other, 'response')) as [IncomingHttpHeaders];
      other.resume();
      assert.equal(refused[':status'], 426);
    } finally {
      session.close();
    }
  });

  const { options: peer } = chromiumPeer('Chromium');
  it('Chromium: the echo page’s WebSocket goes over the page’s h2 connection', peer, async () => {
    const browser = await launchChromium(['--ignore-certificate-errors']);
    try {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const before = (output.match(/over h2/g) ?? []).length;
      await page.goto(`https://localhost:${port}/`);
      const echoed = await page.evaluate(`new Promise((resolve, reject) => {
        const ws = new WebSocket('wss://' + location.host + '/from-chromium');
        ws.onopen = () => ws.send('chromium h2');
        ws.onmessage = (event) => { resolve(event.data); ws.close(); };
        ws.onerror = () => reject(new Error('WebSocket error'));
      })`);
      assert.equal(echoed, 'chromium h2');
      await logged(/connected \S+ \/from-chromium over h2/, 1);
      assert.ok((output.match(/over h2/g) ?? []).length > before);
    } finally {
      await browser.close();
    }
  });
});
