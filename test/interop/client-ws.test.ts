// Interop: Switchboard's client WebSocket with the `ws` package's WebSocketServer.
import { after, before, describe } from 'node:test';
import { packageStatus, requirePeer, startWsServer, switchboardClient, type LocalServerPeer } from './peers.js';
import { registerScenarios, type ClientPeer } from './scenarios.js';

const status = packageStatus('ws');
const peer = requirePeer('ws', status.available, status.reason);

describe('interop: Switchboard client ⇄ ws server', () => {
  let client: ClientPeer | undefined;
  let server: LocalServerPeer | undefined;
  before(async () => {
    if (peer.skip) return;
    [client, server] = await Promise.all([switchboardClient(), startWsServer()]);
  });
  after(async () => {
    await server?.close();
  });
  registerScenarios(() => ({ client: client!, server: server! }), peer);
});
