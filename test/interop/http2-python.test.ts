// Interop: Debian's python3-h2 as a hand-written RFC 8441 client against a
// standalone h2c WebSocketServer. A missing python3-h2 skips, or fails with
// SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from '../../src/node/server-index.js';
import { PYTHON_PATH, requirePeer } from './peers.js';

const CLIENT = fileURLToPath(new URL('./fixtures/h2_websocket_client.py', import.meta.url));
const probe = spawnSync(PYTHON_PATH, ['-c', 'import h2'], { encoding: 'utf8' });
const peer = requirePeer('python3-h2', probe.status === 0, `${PYTHON_PATH} cannot import h2 (apt-get install python3-h2)`);

interface PythonResult {
  enable_connect_protocol: number | null;
  status: number | null;
  headers: Record<string, string>;
  echo: string | null;
  close_code: number | null;
  stream_ended: boolean;
}

async function runClient(port: number, path: string): Promise<PythonResult> {
  const { stdout } = await promisify(execFile)(PYTHON_PATH, [CLIENT, String(port), path], { timeout: 15_000 });
  return JSON.parse(stdout) as PythonResult;
}

describe('interop: python3-h2 RFC 8441 client ⇄ Switchboard server (h2c)', () => {
  let wss: WebSocketServer | undefined;
  const seen: Array<{ version: string; origin: string | undefined; closeCode?: number }> = [];

  before(async () => {
    if (peer.skip) return;
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', http2: true, subprotocols: ['py.v1'], paths: ['/py'], allowedOrigins: ['http://py.example'] });
    wss.on('connection', (ws, request) => {
      const entry: (typeof seen)[number] = { version: request.httpVersion, origin: request.headers.origin };
      seen.push(entry);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('close', (code) => (entry.closeCode = code));
    });
    await wss.ready();
  });

  after(async () => {
    await wss?.close({ timeout: 200 });
  });

  it('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, accepts with 200, echoes, closes 1000', peer, async () => {
    const result = await runClient(wss!.port, '/py');
    assert.equal(result.enable_connect_protocol, 1);
    assert.equal(result.status, 200);
    assert.equal(result.headers['sec-websocket-protocol'], 'py.v1');
    assert.equal(result.headers['sec-websocket-accept'], undefined);
    assert.equal(result.echo, 'hello from python-h2');
    assert.equal(result.close_code, 1000);
    assert.equal(result.stream_ended, true);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.version, '2.0');
    assert.equal(seen[0]!.origin, 'http://py.example');
  });

  it('an unknown path gets 404', peer, async () => {
    const result = await runClient(wss!.port, '/other');
    assert.equal(result.status, 404);
    assert.equal(result.echo, null);
  });
});
