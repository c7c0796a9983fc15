// Interop: Switchboard's WebSocketServer with the `ws` package's client.
import { after, before, describe } from 'node:test';
import { wsClient, packageStatus, requirePeer, startSwitchboardServer, type LocalServerPeer } from './peers.js';
import { registerHttpScenarios, registerScenarios, type ClientPeer } from './scenarios.js';

const status = packageStatus('ws');
const peer = requirePeer('ws', status.available, status.reason);

describe('interop: Switchboard server ⇄ ws client', () => {
  let client: ClientPeer | undefined;
  let server: LocalServerPeer | undefined;
  before(async () => {
    if (peer.skip) return;
    [client, server] = await Promise.all([wsClient(), startSwitchboardServer()]);
  });
  after(async () => {
    await server?.close();
  });
  registerScenarios(() => ({ client: client!, server: server! }), peer);
  registerHttpScenarios(() => ({ client: client!, httpUrl: server!.httpUrl }), peer);
});
