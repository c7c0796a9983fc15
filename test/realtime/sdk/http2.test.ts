// The Node SDK over HTTP/2 (RFC 8441): two RealtimeClients with
// `webSocketOptions: { http2: true }` share one h2c connection to a real-time
// server in noServer mode fed by an http2 server's 'stream' events.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createH2cServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createRealtimeServer } from '../../../src/realtime/server/index.js';
import { RealtimeClient, type PublicationEvent } from '../../../src/realtime/sdk/node.js';

describe('Node SDK over HTTP/2', () => {
  it('two clients on one h2c connection subscribe, publish and receive', async (t) => {
    const rt = createRealtimeServer({ noServer: true, path: '/rt', httpFallback: false, namespaces: { chat: { publish: 'clients' } } });
    const server = createH2cServer({ settings: { enableConnectProtocol: true } });
    let tcp = 0;
    server.on('connection', () => tcp++);
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      if (headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined) rt.handleStream(stream, headers, rawHeaders);
    });
    const versions: string[] = [];
    rt.wss.on('connection', (_ws, request) => versions.push(request.httpVersion));
    server.listen(0, '127.0.0.1');
    await Promise.all([once(server, 'listening'), rt.ready()]);
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/rt`;
    const a = new RealtimeClient(url, { webSocketOptions: { http2: true } });
    const b = new RealtimeClient(url, { webSocketOptions: { http2: true } });
    t.after(async () => {
      a.close();
      b.close();
      await rt.close();
      server.close();
    });
    const subA = a.subscribe('chat:h2');
    const subB = b.subscribe('chat:h2');
    const seenB: Array<PublicationEvent<unknown>> = [];
    const got = new Promise<void>((resolve) =>
      subB.on('publication', (publication) => {
        seenB.push(publication);
        resolve();
      }),
    );
    a.connect();
    b.connect();
    await Promise.all([subA.ready(), subB.ready()]);
    await subA.publish({ text: 'over one h2 connection' });
    await got;
    assert.deepEqual(seenB[0]!.data, { text: 'over one h2 connection' });
    assert.deepEqual(versions, ['2.0', '2.0']);
    assert.equal(tcp, 1);
    assert.equal(rt.sessions.size, 2);
  });
});
