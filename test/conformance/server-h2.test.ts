// Conformance, server role, over HTTP/2 (RFC 8441): every server case of
// cases.ts against an echo `WebSocketServer({ http2: true })` (h2c, the
// limits of `switchboard echo`), each case a WebSocket opened with a
// hand-written extended CONNECT on one shared HTTP/2 connection per limits —
// so the cases also show that one WebSocket failing leaves the others (and
// the connection) alone. The peer is the one of server.test.ts on the
// stream; the stream's END_STREAM plays the TCP FIN.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as http2Connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from '../../src/node/server-index.js';
import { DEFAULT_LIMITS, SECTIONS, SMALL_LIMITS, type ConformanceCase } from './cases.js';
import { assertOutcome, Peer } from './harness.js';

interface H2Echo {
  wss: WebSocketServer;
  session: ClientHttp2Session;
}

let echoes: { default: H2Echo; small: H2Echo } | null = null;

async function start(limits: { maxMessageSize: number; maxFragments: number }): Promise<H2Echo> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    http2: true,
    maxMessageSize: limits.maxMessageSize,
    maxFrameSize: limits.maxMessageSize,
    maxFragments: limits.maxFragments,
    // Every case is a stream of the one connection: room for all of them over the run.
    maxStreamsPerConnection: 1000,
    // A connection holding no stream is closed after the handshake timeout; the small-limits
    // connection waits through every default-limits case first (minutes on a busy machine).
    handshakeTimeout: 600_000,
  });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await wss.ready();
  const session = http2Connect(`http://127.0.0.1:${wss.port}`);
  session.on('error', () => {});
  if (!session.remoteSettings.enableConnectProtocol) await once(session, 'remoteSettings');
  return { wss, session };
}

before(async () => {
  echoes = { default: await start(DEFAULT_LIMITS), small: await start(SMALL_LIMITS) };
});

after(async () => {
  if (!echoes) return;
  for (const echo of [echoes.default, echoes.small]) {
    echo.session.destroy();
    await echo.wss.close({ timeout: 200 });
  }
});

async function runServerCase(testCase: ConformanceCase): Promise<void> {
  const echo = testCase.limits === 'small' ? echoes!.small : echoes!.default;
  const stream = echo.session.request(
    { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/conformance', 'sec-websocket-version': '13' },
    { endStream: false },
  );
  stream.on('error', () => {}); // a reset after a failed connection is reported by the peer
  const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  assert.equal(headers[':status'], 200);
  const result = await new Peer(stream, 'server', Buffer.alloc(0)).run(testCase);
  assertOutcome(testCase, result, 'server');
  assert.equal(echo.session.closed || echo.session.destroyed, false, 'the HTTP/2 connection outlives the case');
}

for (const section of SECTIONS) {
  describe(`${section.id} ${section.title} (RFC 6455 ${section.rfc}) — server over HTTP/2`, () => {
    for (const testCase of section.cases) {
      if (!testCase.roles.includes('server')) continue;
      const name = `${testCase.id} ${testCase.title}${testCase.autobahn ? ` [Autobahn ${testCase.autobahn}]` : ''}`;
      it(name, { timeout: testCase.timeout }, () => runServerCase(testCase));
    }
  });
}
