// WebSockets through Debian's HAProxy, started by the test on a free port:
// RFC 8441 on the client side (TLS, ALPN h2 + http/1.1), HTTP/1.1 or h2c
// (extended CONNECT) to Switchboard. Missing haproxy skips, or fails with
// SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '../../src/node/client-index.js';
import { sessionPool } from '../../src/node/http2-client.js';
import { WebSocketServer } from '../../src/node/server-index.js';
import { requirePeer } from '../interop/peers.js';
import { closed, nextMessage, opened } from '../node/client-helpers.js';
import { selfSignedCertificate } from '../node/server-helpers.js';
import { haproxyStatus, startHaproxy, type RunningHaproxy } from './haproxy.js';

const status = haproxyStatus();
const peer = requirePeer('HAProxy', status.available, status.reason);

describe('behind HAProxy', () => {
  const certificate = selfSignedCertificate();
  const tls = { ca: certificate.cert };
  let haproxy: RunningHaproxy | undefined;
  let http1: WebSocketServer | undefined;
  let h2c: WebSocketServer | undefined;
  let front = 0;
  const versions = { http1: [] as string[], h2c: [] as string[] };

  before(async () => {
    if (peer.skip) return;
    http1 = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    h2c = new WebSocketServer({ port: 0, host: '127.0.0.1', http2: true });
    for (const [name, wss] of [['http1', http1], ['h2c', h2c]] as const) {
      wss.on('connection', (ws, request) => {
        versions[name].push(request.httpVersion);
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      });
    }
    await Promise.all([http1.ready(), h2c.ready()]);
    const servers = { http1: http1.port, h2c: h2c.port };
    haproxy = await startHaproxy(
      certificate,
      (port, pem) => `global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout tunnel 1h
frontend fe
  bind 127.0.0.1:${port} ssl crt ${pem} alpn h2,http/1.1
  use_backend h2c if { path_beg /h2c }
  default_backend http1
backend http1
  server s1 127.0.0.1:${servers.http1}
backend h2c
  server s1 127.0.0.1:${servers.h2c} proto h2
`,
    );
    front = haproxy.port;
  });

  after(async () => {
    haproxy?.stop();
    await Promise.all([http1?.close({ timeout: 200 }), h2c?.close({ timeout: 200 })]);
  });

  for (const backend of ['http1', 'h2c'] as const) {
    it(`our client speaks RFC 8441 to HAProxy, which speaks ${backend === 'http1' ? 'HTTP/1.1' : 'h2c (extended CONNECT)'} to Switchboard`, peer, async () => {
      const url = `wss://localhost:${front}/${backend === 'h2c' ? 'h2c' : 'ws'}`;
      const sockets = [0, 1, 2].map(() => new WebSocket(url, undefined, { http2: true, tls }));
      await Promise.all(sockets.map(opened));
      const session = sessionPool.existing(new URL(url), tls);
      assert.ok(session, 'the WebSockets share an HTTP/2 session to HAProxy');
      assert.equal(session.session.remoteSettings.enableConnectProtocol, true);
      for (const [i, ws] of sockets.entries()) {
        ws.send(`via haproxy ${i}`);
        assert.equal(await nextMessage(ws), `via haproxy ${i}`);
      }
      const big = 'y'.repeat(512 * 1024);
      sockets[0]!.send(big);
      assert.equal(await nextMessage(sockets[0]!), big);
      const events = await Promise.all(
        sockets.map((ws, i) => {
          const done = closed(ws);
          ws.close(4000 + i, 'bye');
          return done;
        }),
      );
      assert.deepEqual(
        events.map((event) => [event.code, event.wasClean]),
        [[4000, true], [4001, true], [4002, true]],
      );
      assert.deepEqual(versions[backend], backend === 'http1' ? ['1.1', '1.1', '1.1'] : ['2.0', '2.0', '2.0']);
    });
  }
});
