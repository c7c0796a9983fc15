// Conformance, client role: every case of cases.ts against our WHATWG `WebSocket` client, which echoes each
// message back with its type (binaryType 'arraybuffer'). A raw TCP server answers the opening handshake by hand,
// sends unmasked frames and checks the client's masked replies with its own decoder (peer.ts). Besides the wire,
// each case checks the client's events: a failed connection gives 'error' then 'close' 1006 (not clean); a clean
// close gives 'close' with the server's code and reason, wasClean true, and no 'error'.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '../../src/node/client.js';
import { DEFAULT_LIMITS, SECTIONS, SMALL_LIMITS, type ConformanceCase } from './cases.js';
import { assertOutcome, Peer, peerClose } from './harness.js';
import { answerHandshakeRequest, readHead } from './peer.js';

let server: Server | null = null;
let port = 0;
const pending: Array<(socket: Socket) => void> = [];
const open = new Set<Socket>();

before(async () => {
  server = createServer((socket) => {
    socket.on('error', () => {}); // reported by the peer
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    const take = pending.shift();
    if (take) take(socket);
    else socket.destroy();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const socket of open) socket.destroy();
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
});

function nextConnection(timeout = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const take = (socket: Socket): void => {
      clearTimeout(timer);
      resolve(socket);
    };
    const timer = setTimeout(() => {
      pending.splice(pending.indexOf(take), 1);
      reject(new Error(`the client did not connect within ${timeout} ms`));
    }, timeout);
    pending.push(take);
  });
}

interface ClientRecord {
  opened: boolean;
  errors: number;
  close: { code: number; reason: string; wasClean: boolean } | null;
  sendFailures: string[];
  /** Resolves once 'close' has fired. */
  closed: Promise<void>;
}

/** A client that echoes every message with its type, and records its events. */
function echoClient(testCase: ConformanceCase): { ws: WebSocket; record: ClientRecord; opened: Promise<void> } {
  const limits = testCase.limits === 'small' ? SMALL_LIMITS : DEFAULT_LIMITS;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/conformance`, undefined, {
    maxMessageSize: limits.maxMessageSize,
    maxFrameSize: limits.maxMessageSize,
    maxFragments: limits.maxFragments,
  });
  ws.binaryType = 'arraybuffer';
  let markClosed: () => void = () => {};
  let markOpened: () => void = () => {};
  const record: ClientRecord = { opened: false, errors: 0, close: null, sendFailures: [], closed: new Promise((resolve) => (markClosed = resolve)) };
  const opened = new Promise<void>((resolve) => (markOpened = resolve));
  ws.onopen = () => {
    record.opened = true;
    markOpened();
  };
  ws.onmessage = (event) => {
    try {
      ws.send(event.data as string | ArrayBuffer);
    } catch (error) {
      record.sendFailures.push((error as Error).message);
    }
  };
  ws.onerror = () => {
    record.errors++;
  };
  ws.onclose = (event) => {
    record.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
    markOpened();
    markClosed();
  };
  return { ws, record, opened };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    }),
  ]);
}

async function runClientCase(testCase: ConformanceCase): Promise<void> {
  const accepted = nextConnection();
  const { ws, record, opened } = echoClient(testCase);
  let socket: Socket | null = null;
  try {
    socket = await accepted;
    const { head, rest } = await readHead(socket);
    let response = answerHandshakeRequest(head);
    // A case may glue its first frames to the 101 response: the client must still dispatch 'open' first.
    const first = testCase.steps[0];
    const peer = new Peer(socket, 'client', rest);
    if (testCase.glueToHandshake && first?.kind === 'send') {
      response = Buffer.concat([response, ...first.frames.map((frame) => peer.encode(frame))]);
    }
    socket.write(response);
    await within(opened, 5000, "no 'open' event");
    assert.ok(record.opened, `'open' did not fire (close ${record.close?.code})`);
    const result = await peer.run(testCase, testCase.glueToHandshake === true);
    await within(record.closed, 5000, "no 'close' event");
    assertOutcome(testCase, result, 'client');

    // The client's view of the same connection (WHATWG WebSocket §"feedback from the protocol").
    const event = record.close!;
    assert.deepEqual(record.sendFailures, [], 'send() threw while echoing');
    if (testCase.close.kind === 'fail') {
      assert.equal(record.errors, 1, "one 'error' event before 'close' when the client fails the connection");
      assert.deepEqual({ code: event.code, wasClean: event.wasClean }, { code: 1006, wasClean: false }, 'close event of a failed connection');
    } else {
      const sent = peerClose(testCase)!;
      assert.equal(record.errors, 0, "no 'error' event after a clean close");
      assert.deepEqual(event, { code: sent.code, reason: sent.reason, wasClean: true }, 'close event after a clean close');
    }
    assert.equal(ws.readyState, WebSocket.CLOSED);
  } finally {
    socket?.destroy();
    if (ws.readyState !== WebSocket.CLOSED) {
      // A failed case: make sure nothing is left open.
      try {
        ws.close();
      } catch {
        // already failing
      }
      await within(record.closed, 6000, "no 'close' event after close()").catch(() => {});
    }
  }
}

for (const section of SECTIONS) {
  describe(`${section.id} ${section.title} (RFC 6455 ${section.rfc}) — client`, () => {
    for (const testCase of section.cases) {
      if (!testCase.roles.includes('client')) continue;
      const name = `${testCase.id} ${testCase.title}${testCase.autobahn ? ` [Autobahn ${testCase.autobahn}]` : ''}`;
      it(name, { timeout: testCase.timeout }, () => runClientCase(testCase));
    }
  });
}
