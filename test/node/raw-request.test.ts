// The request object of the raw-socket path: which heads are upgrades, and
// headers combined as Node's own HTTP parser combines them (checked against
// a real http.Server reading the same bytes).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, IncomingMessage } from 'node:http';
import { connect, Socket } from 'node:net';
import { describe, test } from 'node:test';
import { HttpRequestParser, type HttpRequestHead } from '../../src/protocol/http.js';
import { isUpgradeRequest, nodeHeaders, requestOfHead } from '../../src/node/raw-request.js';

function headOf(text: string): HttpRequestHead {
  const parsed = new HttpRequestParser().feed(Buffer.from(text));
  assert.ok(parsed);
  return parsed.head;
}

/** The request as Node's http.Server reads it (its 'upgrade' or 'request' event). */
async function nodeRequestOf(text: string): Promise<IncomingMessage> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  // Listening to 'upgrade' makes Node tell upgrades from ordinary requests (without a listener, all are requests).
  const received = Promise.race([once(server, 'upgrade'), once(server, 'request')]);
  const client = connect(address.port, '127.0.0.1');
  client.on('error', () => {});
  client.write(text);
  const [request] = (await received) as [IncomingMessage];
  client.destroy();
  server.closeAllConnections();
  server.close();
  return request;
}

const REPEATS =
  'GET /chat?room=1 HTTP/1.1\r\n' +
  'Host: first.example\r\nHost: second.example\r\n' +
  'User-Agent: a\r\nuser-agent: b\r\n' +
  'Cookie: a=1\r\nCookie: b=2\r\n' +
  'Set-Cookie: x=1\r\nSet-Cookie: y=2\r\n' +
  'Sec-WebSocket-Protocol: one\r\nsec-websocket-protocol: two\r\n' +
  'Authorization: Bearer 1\r\nAuthorization: Bearer 2\r\n' +
  'X-Custom: a\r\nX-CUSTOM: b\r\nX-Custom: c\r\n' +
  'Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n';

describe('nodeHeaders', () => {
  test('combines repeated fields as Node does: first kept, set-cookie array, cookie "; ", others ", "', async () => {
    const mine = nodeHeaders(headOf(REPEATS).rawHeaders);
    const node = await nodeRequestOf(REPEATS);
    assert.deepEqual({ ...mine }, { ...node.headers });
    assert.equal(mine.host, 'first.example');
    assert.deepEqual(mine['set-cookie'], ['x=1', 'y=2']);
    assert.equal(mine.cookie, 'a=1; b=2');
    assert.equal(mine['x-custom'], 'a, b, c');
  });
});

describe('requestOfHead', () => {
  test('an IncomingMessage with the fields Node would give, and the socket', async () => {
    const socket = new Socket();
    const request = requestOfHead(headOf(REPEATS), socket);
    const node = await nodeRequestOf(REPEATS);
    assert.ok(request instanceof IncomingMessage);
    assert.equal(request.socket, socket);
    for (const key of ['method', 'url', 'httpVersion', 'httpVersionMajor', 'httpVersionMinor', 'rawHeaders', 'complete'] as const) {
      assert.deepEqual(request[key], node[key], key);
    }
    assert.deepEqual({ ...request.headers }, { ...node.headers });
    request.resume();
    await once(request, 'end');
  });
});

describe('isUpgradeRequest', () => {
  const cases: Array<[string, string, boolean]> = [
    ['Upgrade and Connection: Upgrade', 'Upgrade: websocket\r\nConnection: Upgrade', true],
    ['upgrade among other connection options, any case', 'Upgrade: h2c\r\nConnection: keep-alive, UPGRADE', true],
    ['the upgrade token in a repeated Connection field', 'Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade', true],
    ['no Upgrade field', 'Connection: Upgrade', false],
    ['no Connection: upgrade', 'Upgrade: websocket\r\nConnection: keep-alive', false],
    ['no Connection at all', 'Upgrade: websocket', false],
  ];
  for (const [name, fields, expected] of cases) {
    test(`${name}: ${expected}`, async () => {
      const text = `GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n\r\n`;
      assert.equal(isUpgradeRequest(headOf(text)), expected);
      // Node's http.Server agrees: 'upgrade' for the upgrades, 'request' for the others.
      const node = await nodeRequestOf(text);
      assert.equal((node as IncomingMessage & { upgrade?: boolean }).upgrade === true, expected);
    });
  }
});
