// Conformance, server role: every case of cases.ts against `switchboard echo` (startEchoServer), driven by
// a raw TCP client that does the opening handshake by hand, sends masked frames and checks the unmasked replies
// with its own decoder (peer.ts).
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startEchoServer } from '../../src/cli/echo.js';
import { DEFAULT_LIMITS, SECTIONS, SMALL_LIMITS, type ConformanceCase } from './cases.js';
import { assertOutcome, Peer } from './harness.js';
import { checkHandshakeResponse, handshakeRequest, readHead } from './peer.js';

type EchoServer = Awaited<ReturnType<typeof startEchoServer>>;

let servers: { default: EchoServer; small: EchoServer } | null = null;

before(async () => {
  const start = (limits: { maxMessageSize: number; maxFragments: number }): Promise<EchoServer> =>
    startEchoServer({ port: 0, host: '127.0.0.1', subprotocols: [], ...limits, log: () => {} });
  servers = { default: await start(DEFAULT_LIMITS), small: await start(SMALL_LIMITS) };
});

after(async () => {
  if (servers) await Promise.all([servers.default.close(), servers.small.close()]);
});

/** Connects and does the opening handshake by hand; resolves with the socket and any bytes after the 101 head. */
async function openRaw(port: number): Promise<{ socket: Socket; rest: Buffer }> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {}); // reported by the peer or the handshake reader
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const request = handshakeRequest(`127.0.0.1:${port}`, '/conformance');
  socket.write(request.bytes);
  try {
    const { head, rest } = await readHead(socket);
    checkHandshakeResponse(head, request.key);
    return { socket, rest };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

async function runServerCase(testCase: ConformanceCase): Promise<void> {
  const server = testCase.limits === 'small' ? servers!.small : servers!.default;
  const { socket, rest } = await openRaw(server.port);
  const result = await new Peer(socket, 'server', rest).run(testCase);
  assertOutcome(testCase, result, 'server');
}

for (const section of SECTIONS) {
  describe(`${section.id} ${section.title} (RFC 6455 ${section.rfc}) — server`, () => {
    for (const testCase of section.cases) {
      if (!testCase.roles.includes('server')) continue;
      const name = `${testCase.id} ${testCase.title}${testCase.autobahn ? ` [Autobahn ${testCase.autobahn}]` : ''}`;
      it(name, { timeout: testCase.timeout }, () => runServerCase(testCase));
    }
  });
}
