// Interop: Switchboard's WebSocketServer with undici's WebSocket (and undici's HTTP client).
import { after, before, describe } from 'node:test';
import { undiciClient, packageStatus, requirePeer, startSwitchboardServer, type LocalServerPeer } from './peers.js';
import { registerHttpScenarios, registerScenarios, type ClientPeer } from './scenarios.js';

const status = packageStatus('undici');
const peer = requirePeer('undici', status.available, status.reason);

describe('interop: Switchboard server ⇄ undici client', () => {
  let client: ClientPeer | undefined;
  let server: LocalServerPeer | undefined;
  before(async () => {
    if (peer.skip) return;
    [client, server] = await Promise.all([undiciClient(), startSwitchboardServer()]);
  });
  after(async () => {
    await server?.close();
  });
  registerScenarios(() => ({ client: client!, server: server! }), peer);
  registerHttpScenarios(() => ({ client: client!, httpUrl: server!.httpUrl }), peer);
});
