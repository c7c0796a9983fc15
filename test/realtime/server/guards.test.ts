// The WebSocket server's guards reach a real-time server through its
// `websocket` option (docs/security.md): a Host allowlist and a per-address
// connection limit, answered with their HTTP statuses before any upgrade.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { createRealtimeServer } from '../../../src/realtime/server/index.js';

/** Sends an upgrade request and resolves with the HTTP status of the answer (101 for a switch). */
function upgradeStatus(port: number, host = `127.0.0.1:${port}`): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({
      port,
      host: '127.0.0.1',
      headers: {
        Host: host,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol': 'switchboard.v1.json',
      },
    });
    req.on('upgrade', (response, socket) => resolve({ status: response.statusCode ?? 0, close: () => socket.destroy() }));
    req.on('response', (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, close: () => {} });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('real-time server: WebSocket guards passed through', () => {
  it('refuses a Host outside allowedHosts with 421', async () => {
    const rt = createRealtimeServer({ port: 0, host: '127.0.0.1', websocket: { allowedHosts: ['rt.example.org'] } });
    await rt.ready();
    try {
      assert.equal((await upgradeStatus(rt.port)).status, 421);
      const allowed = await upgradeStatus(rt.port, 'rt.example.org');
      assert.equal(allowed.status, 101);
      allowed.close();
    } finally {
      await rt.close();
    }
  });

  it('limits connections per address with 429', async () => {
    const rt = createRealtimeServer({
      port: 0,
      host: '127.0.0.1',
      websocket: { maxConnectionsPerIp: 1, connectionLimitExempt: () => false },
    });
    await rt.ready();
    try {
      const first = await upgradeStatus(rt.port);
      assert.equal(first.status, 101);
      assert.equal((await upgradeStatus(rt.port)).status, 429);
      first.close();
    } finally {
      await rt.close();
    }
  });
});
