// WebSockets through Debian's nginx, started by the test on a free port: HTTP/1.1
// upgrade proxying to Switchboard, idle timeouts (proxy_read_timeout) against
// the server's heartbeat, and nginx's h2 listener, which does not speak RFC
// 8441: our `http2: true` client falls back to HTTP/1.1 there. Missing nginx
// skips, or fails with SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as http2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { once } from 'node:events';
import { WebSocket } from '../../src/node/client-index.js';
import { WebSocketServer } from '../../src/node/server-index.js';
import { requirePeer } from '../interop/peers.js';
import { closed, nextMessage, opened } from '../node/client-helpers.js';
import { selfSignedCertificate } from '../node/server-helpers.js';
import { freePort } from '../realtime/broker/redis-server.js';
import { listening } from './listening.js';

const NGINX = '/usr/sbin/nginx';
const probe = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
const peer = requirePeer('nginx', probe.status === 0, `${NGINX} not found (apt-get install nginx-light)`);

describe('behind nginx', () => {
  const certificate = selfSignedCertificate();
  const tls = { ca: certificate.cert };
  let dir = '';
  let nginx: ChildProcess | undefined;
  let wss: WebSocketServer | undefined;
  let plain = 0;
  let secure = 0;
  const versions: string[] = [];

  before(async () => {
    if (peer.skip) return;
    // Heartbeat every 600 ms; nginx drops a proxied connection idle for 2 s. Each pong crosses nginx, another
    // process on a machine that may be loaded, within one heartbeat interval.
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 600 });
    wss.on('connection', (ws, request) => {
      versions.push(request.httpVersion);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await wss.ready();
    [plain, secure] = [await freePort(), await freePort()];
    dir = mkdtempSync(join(tmpdir(), 'switchboard-nginx-'));
    writeFileSync(join(dir, 'cert.pem'), certificate.cert);
    writeFileSync(join(dir, 'key.pem'), certificate.key);
    const location = `
      location / {
        proxy_pass http://127.0.0.1:${wss.port};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header Host $host;
        proxy_read_timeout 2s;
        proxy_send_timeout 2s;
      }`;
    writeFileSync(
      join(dir, 'nginx.conf'),
      `pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')};
worker_processes 1;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${plain}; ${location} }
  server { listen 127.0.0.1:${secure} ssl http2; ssl_certificate ${join(dir, 'cert.pem')}; ssl_certificate_key ${join(dir, 'key.pem')}; ${location} }
}
`,
    );
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    await Promise.all([listening(plain), listening(secure)]);
  });

  after(async () => {
    nginx?.kill('SIGQUIT');
    if (nginx && nginx.exitCode === null) await once(nginx, 'exit');
    await wss?.close({ timeout: 200 });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('proxies HTTP/1.1 upgrades; the heartbeat keeps a quiet WebSocket past proxy_read_timeout', peer, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${plain}/chat`);
    await opened(ws);
    ws.send('through nginx');
    assert.equal(await nextMessage(ws), 'through nginx');
    // Two and a half times nginx's idle timeout without a message: only pings and pongs cross.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.send('still here');
    assert.equal(await nextMessage(ws), 'still here');
    const done = closed(ws);
    ws.close(4000, 'bye');
    const event = await done;
    assert.equal(event.code, 4000);
    assert.equal(event.wasClean, true);
  });

  it('without a heartbeat, nginx closes the idle WebSocket after proxy_read_timeout', peer, async () => {
    const quiet = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 0 });
    await quiet.ready();
    const port = await freePort();
    const config = join(dir, 'quiet.conf');
    writeFileSync(
      config,
      `pid ${join(dir, 'quiet.pid')};
error_log ${join(dir, 'quiet.log')};
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://127.0.0.1:${quiet.port}; proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade"; proxy_read_timeout 1s; } }
}
`,
    );
    const second = spawn(NGINX, ['-p', dir, '-c', config, '-g', 'daemon off;'], { stdio: 'ignore' });
    try {
      await listening(port);
      const started = Date.now(); // before the connect: nginx's clock starts when it passes the 101 on
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      await opened(ws);
      const event = await closed(ws);
      assert.equal(event.code, 1006);
      assert.ok(Date.now() - started >= 900, `closed after ${Date.now() - started} ms`);
    } finally {
      second.kill('SIGQUIT');
      if (second.exitCode === null) await once(second, 'exit');
      await quiet.close({ timeout: 200 });
    }
  });

  it('nginx speaks h2 without SETTINGS_ENABLE_CONNECT_PROTOCOL: an http2 client falls back to HTTP/1.1', peer, async () => {
    const session = http2Connect(`https://localhost:${secure}`, tls);
    try {
      await once(session, 'remoteSettings');
      assert.notEqual(session.remoteSettings.enableConnectProtocol, true);
    } finally {
      session.close();
    }
    const before = versions.length;
    const ws = new WebSocket(`wss://localhost:${secure}/chat`, undefined, { http2: true, tls });
    await opened(ws);
    ws.send('fell back');
    assert.equal(await nextMessage(ws), 'fell back');
    assert.deepEqual(versions.slice(before), ['1.1']);
    const done = closed(ws);
    ws.close(1000);
    assert.equal((await done).code, 1000);
  });
});
