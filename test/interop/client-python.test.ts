// Interop: Switchboard's client WebSocket with a Python `websockets` 10.x server
// (Debian's /usr/bin/python3 running fixtures/python_server.py in its own process).
import { after, before, describe } from 'node:test';
import { pythonWebsocketsStatus, requirePeer, startPythonServer, switchboardClient } from './peers.js';
import { registerScenarios, type ClientPeer, type ServerPeer } from './scenarios.js';

const status = pythonWebsocketsStatus();
const peer = requirePeer('Python websockets', status.available, status.reason);

describe('interop: Switchboard client ⇄ Python websockets server', () => {
  let client: ClientPeer | undefined;
  let server: ServerPeer | undefined;
  before(async () => {
    if (peer.skip) return;
    [client, server] = await Promise.all([switchboardClient(), startPythonServer()]);
  });
  after(async () => {
    await server?.close();
  });
  registerScenarios(() => ({ client: client!, server: server! }), peer);
});
