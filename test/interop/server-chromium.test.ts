// Interop: Switchboard's WebSocketServer with Chromium's WebSocket (Debian's /usr/bin/chromium
// driven by playwright-core; one browser for the file, one page per scenario).
import { after, before, describe } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumClient, chromiumStatus, launchChromium, requirePeer, startSwitchboardServer, type LocalServerPeer } from './peers.js';
import { registerHttpScenarios, registerScenarios } from './scenarios.js';

const status = chromiumStatus();
const peer = requirePeer('Chromium', status.available, status.reason);

describe('interop: Switchboard server ⇄ Chromium client', () => {
  let browser: Browser | undefined;
  let server: LocalServerPeer | undefined;
  before(async () => {
    if (peer.skip) return;
    [browser, server] = await Promise.all([launchChromium(), startSwitchboardServer()]);
  });
  after(async () => {
    await Promise.all([browser?.close(), server?.close()]);
  });
  const client = chromiumClient(() => browser!);
  registerScenarios(() => ({ client, server: server! }), peer);
  registerHttpScenarios(() => ({ client, httpUrl: server!.httpUrl }), peer);
});
