// `switchboard serve` against hostile clients, through real sockets to the
// built command: slow and piled-up sockets, foreign Host and Origin values
// (DNS rebinding), the metrics and health endpoints, log injection, guests
// when a JWT is configured, and guest identity spoofing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RealtimeError } from '../../src/realtime/sdk/index.js';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import type { DemoApi } from '../../src/cli/apps/web/api.js';
import { signJwt } from '../realtime/server/wire-client.js';
import { selfSignedCertificate } from '../node/server-helpers.js';
import { eventually, guest, startServe, type ServeProcess } from './serve-helpers.js';

const SECRET = 'a-secret-of-at-least-32-bytes-for-hs256!';
const UPGRADE_HEADERS = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** A temporary directory with config files (JSON, or text); `remove()` deletes it. */
function configDir(): { write(name: string, content: object | string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'serve-security-'));
  return {
    write(name, content) {
      writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
      return join(dir, name);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Sends a raw request head; resolves with the status line's code (0 when the socket closed without a response). */
function rawStatus(port: number, head: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (match !== null) {
        resolve(Number(match[1]));
        socket.destroy();
      }
    });
    socket.on('close', () => resolve(0));
    socket.on('error', reject);
    socket.write(head);
  });
}

/** The status of a WebSocket upgrade of /rt with these Host and Origin values. */
function upgradeStatus(port: number, host: string, origin?: string): Promise<number> {
  return rawStatus(port, `GET /rt HTTP/1.1\r\nHost: ${host}\r\n${origin === undefined ? '' : `Origin: ${origin}\r\n`}${UPGRADE_HEADERS}\r\n`);
}

/** An HTTP request with this Host; resolves with status and body. */
function fetchWithHost(port: number, path: string, host: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: host };
    // A body is the fallback's open request, of a version 2 client.
    if (body !== undefined) Object.assign(headers, { 'Content-Type': 'application/json', 'X-Switchboard-Fallback': '2' });
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
      // The fallback's open answers with an event stream that stays open: the status is enough.
      if (res.headers['content-type']?.startsWith('text/event-stream')) {
        resolve({ status: res.statusCode ?? 0, body: '' });
        res.destroy();
      }
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The first connect of the HTTP fallback: a POST to /rt/http whose body holds `connect`. */
const FALLBACK_OPEN = JSON.stringify([{ type: 'connect', id: 1, data: { name: 'Fallback', id: 'abcdefgh' } }]);

/** Opens a plain TCP socket; resolves once connected. */
async function openSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Resolves true when the socket closes within `ms`, false otherwise. */
function closesWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A real-time client that connects with `token`; resolves with the connect result or the close code. */
async function jwtClient(port: number, token: string): Promise<{ client: RealtimeClient<DemoApi>; user?: string; code?: number }> {
  const client = new RealtimeClient<DemoApi>(`ws://127.0.0.1:${port}/rt`, { token, reconnect: false });
  const outcome = new Promise<{ user?: string; code?: number }>((resolve) => {
    client.once('connected', (result) => resolve({ user: result.user }));
    client.once('disconnected', (event) => resolve({ code: event.code }));
  });
  client.connect();
  return { client, ...(await outcome) };
}

/** A guest client's outcome: connected (user id) or refused (close code). */
async function guestOutcome(port: number, data: object): Promise<{ user?: string; code?: number }> {
  const client = new RealtimeClient<DemoApi>(`ws://127.0.0.1:${port}/rt`, { data, reconnect: false });
  const outcome = new Promise<{ user?: string; code?: number }>((resolve) => {
    client.once('connected', (result) => resolve({ user: result.user }));
    client.once('disconnected', (event) => resolve({ code: event.code }));
  });
  client.connect();
  const result = await outcome;
  client.close();
  return result;
}

describe('switchboard serve: slow and piled-up sockets', () => {
  it('gives a request head 10 s: dripping sockets get 408 and are closed at the handshake timeout (Node’s default held them 60-90 s)', async () => {
    const serve = await startServe(['--port', '0']);
    try {
      const head = `GET /chat HTTP/1.1\r\nHost: 127.0.0.1:${serve.port}\r\nX-Drip: ${'a'.repeat(200)}\r\n\r\n`;
      const count = 40;
      const started = Date.now();
      const sockets = await Promise.all(Array.from({ length: count }, () => openSocket(serve.port)));
      const results = sockets.map((socket) => {
        let index = 0;
        let response = '';
        socket.on('data', (chunk) => (response += chunk.toString('latin1')));
        const drip = setInterval(() => {
          if (!socket.closed && index < head.length) socket.write(head[index++]!);
        }, 500);
        return new Promise<{ held: number; response: string }>((resolve) => {
          socket.once('close', () => {
            clearInterval(drip);
            resolve({ held: Date.now() - started, response });
          });
        });
      });
      const closed = await Promise.all(results);
      const held = closed.map((result) => result.held);
      assert.ok(Math.max(...held) < 25_000, `every dripping socket closed within 25 s (held ${Math.min(...held)}-${Math.max(...held)} ms)`);
      assert.ok(Math.min(...held) >= 9_000, `none before the 10 s timeout (held ${Math.min(...held)} ms)`);
      for (const { response } of closed) assert.match(response, /^HTTP\/1\.1 408 /);
      const page = await fetch(`http://127.0.0.1:${serve.port}/chat`);
      assert.equal(page.status, 200, 'a normal client is served afterwards');
      await page.text();
    } finally {
      await serve.stop();
    }
  });

  it('applies websocket.handshakeTimeout to the TLS handshake too: a silent socket on the HTTPS port is closed then (Node’s default: 120 s)', async () => {
    const dir = configDir();
    const { key, cert } = selfSignedCertificate();
    const config = dir.write('tls.json', { websocket: { handshakeTimeout: 2000 }, tls: { cert: dir.write('cert.pem', cert.toString()), key: dir.write('key.pem', key.toString()) } });
    const serve = await startServe(['--port', '0', '--config', config]);
    try {
      const started = Date.now();
      const silent = await openSocket(serve.port);
      assert.equal(await closesWithin(silent, 8000), true, 'closed');
      const held = Date.now() - started;
      assert.ok(held >= 1500, `not before the timeout (${held} ms)`);
    } finally {
      await serve.stop();
      dir.remove();
    }
  });

  it('caps sockets in total (--max-sockets): the ones over it are closed at once', async () => {
    const serve = await startServe(['--port', '0', '--max-sockets', '4']);
    try {
      const sockets = [];
      for (let i = 0; i < 4; i++) sockets.push(await openSocket(serve.port));
      const over = [await openSocket(serve.port), await openSocket(serve.port)];
      assert.deepEqual(await Promise.all(over.map((socket) => closesWithin(socket, 3000))), [true, true], 'the 5th and 6th sockets are closed');
      assert.deepEqual(await Promise.all(sockets.map((socket) => closesWithin(socket, 500))), [false, false, false, false], 'the first four stay');
      sockets[0]!.destroy();
      await eventually(async () => {
        const status = await fetchWithHost(serve.port, '/healthz', `127.0.0.1:${serve.port}`).catch(() => ({ status: 0 }));
        return status.status === 200 ? true : undefined;
      }, 5000, 'a freed slot serving a request');
      for (const socket of sockets) socket.destroy();
    } finally {
      await serve.stop();
    }
  });

  it('caps sockets per address (maxSocketsPerIp) with the WebSocket guard’s exemption, here none', async () => {
    const dir = configDir();
    const config = dir.write('per-ip.json', { maxSocketsPerIp: 3, websocket: { connectionLimitExempt: [] } });
    const serve = await startServe(['--port', '0', '--config', config]);
    try {
      const sockets = [];
      for (let i = 0; i < 3; i++) sockets.push(await openSocket(serve.port));
      const over = await openSocket(serve.port);
      assert.equal(await closesWithin(over, 3000), true, 'the 4th socket from 127.0.0.1 is closed');
      assert.deepEqual(await Promise.all(sockets.map((socket) => closesWithin(socket, 500))), [false, false, false]);
      sockets[0]!.destroy();
      await once(sockets[0]!, 'close');
      await eventually(async () => {
        const socket = await openSocket(serve.port);
        const admitted = !(await closesWithin(socket, 300));
        socket.destroy();
        return admitted ? true : undefined;
      }, 5000, 'a closed socket freeing its slot');
      for (const socket of sockets) socket.destroy();
    } finally {
      await serve.stop();
      dir.remove();
    }
  });

  it('leaves loopback exempt from the per-address cap by default, as the WebSocket guard does', async () => {
    const serve = await startServe(['--port', '0', '--max-sockets-per-ip', '2']);
    try {
      const sockets = [];
      for (let i = 0; i < 4; i++) sockets.push(await openSocket(serve.port));
      assert.deepEqual(await Promise.all(sockets.map((socket) => closesWithin(socket, 500))), [false, false, false, false]);
      for (const socket of sockets) socket.destroy();
    } finally {
      await serve.stop();
    }
  });
});

describe('switchboard serve: Host and Origin (DNS rebinding)', () => {
  let serve: ServeProcess;
  before(async () => {
    serve = await startServe(['--port', '0']);
  });
  after(async () => {
    await serve.stop();
  });

  it('bound to loopback, answers 421 to a foreign Host on the pages, /rt and the fallback /rt/http', async () => {
    const evil = `evil.example:${serve.port}`;
    for (const path of ['/', '/chat', '/switchboard-sdk.js', '/healthz', '/metrics']) {
      assert.equal((await fetchWithHost(serve.port, path, evil)).status, 421, path);
      assert.equal((await fetchWithHost(serve.port, path, 'evil.example')).status, 421, `${path} without a port`);
    }
    assert.equal((await fetchWithHost(serve.port, '/rt/http', evil, 'POST', FALLBACK_OPEN)).status, 421, 'the fallback');
    assert.equal(await upgradeStatus(serve.port, evil), 421, 'the WebSocket upgrade');
  });

  it('serves loopback names: localhost, 127.0.0.1 and [::1], with their port', async () => {
    for (const host of [`localhost:${serve.port}`, `127.0.0.1:${serve.port}`, `[::1]:${serve.port}`, 'localhost']) {
      assert.equal((await fetchWithHost(serve.port, '/chat', host)).status, 200, host);
      assert.equal(await upgradeStatus(serve.port, host), 101, `${host} upgrade`);
    }
    assert.equal((await fetchWithHost(serve.port, '/rt/http', `localhost:${serve.port}`, 'POST', FALLBACK_OPEN)).status, 200, 'the fallback');
  });

  it('lets in a page of a served origin, or a client without Origin; refuses other origins and null', async () => {
    const host = `localhost:${serve.port}`;
    assert.equal(await upgradeStatus(serve.port, host, `http://localhost:${serve.port}`), 101);
    assert.equal(await upgradeStatus(serve.port, host, `http://127.0.0.1:${serve.port}`), 101);
    assert.equal(await upgradeStatus(serve.port, host), 101, 'no Origin: not a browser');
    assert.equal(await upgradeStatus(serve.port, host, 'http://evil.example'), 403);
    assert.equal(await upgradeStatus(serve.port, host, 'null'), 403);
  });

  it('bound to 0.0.0.0 without allowedHosts, serves any Host but warns at startup', async () => {
    const open = await startServe(['--port', '0', '--host', '0.0.0.0']);
    try {
      await open.waitFor(/Press Ctrl-C to stop/);
      assert.match(open.output(), /warning: listening on 0\.0\.0\.0 without allowedHosts: any Host name is served/);
      assert.match(open.output(), /warning: \/metrics and \/healthz are served to anyone/);
      assert.equal((await fetchWithHost(open.port, '/chat', 'evil.example')).status, 200);
      assert.equal(await upgradeStatus(open.port, 'evil.example'), 101);
    } finally {
      await open.stop();
    }
  });

  it('takes --allowed-hosts, --allowed-origins and the websocket guards from flags and the config file', async () => {
    const dir = configDir();
    const config = dir.write('hosts.json', { allowedOrigins: ['https://app.example'] });
    const named = await startServe(['--port', '0', '--host', '0.0.0.0', '--allowed-hosts', 'app.example,.corp.example', '--metrics-port', '0', '--config', config]);
    try {
      await named.waitFor(/Press Ctrl-C to stop/);
      assert.doesNotMatch(named.output(), /warning/);
      assert.equal((await fetchWithHost(named.port, '/chat', 'evil.example')).status, 421);
      assert.equal((await fetchWithHost(named.port, '/chat', 'app.example')).status, 200);
      assert.equal((await fetchWithHost(named.port, '/chat', 'eu.corp.example:8443')).status, 200);
      assert.equal((await fetchWithHost(named.port, '/rt/http', 'evil.example', 'POST', FALLBACK_OPEN)).status, 421);
      assert.equal(await upgradeStatus(named.port, 'evil.example'), 421);
      assert.equal(await upgradeStatus(named.port, 'app.example', 'https://evil.example'), 403, 'an origin not listed');
      assert.equal(await upgradeStatus(named.port, 'app.example', 'https://app.example'), 101, 'the listed origin');
    } finally {
      await named.stop();
      dir.remove();
    }
  });

  it('passes the websocket guards of the config file through (maxConnectionsPerIp, connectionLimitExempt)', async () => {
    const dir = configDir();
    const config = dir.write('guards.json', { websocket: { maxConnectionsPerIp: 2, connectionLimitExempt: [] } });
    const guarded = await startServe(['--port', '0', '--config', config]);
    try {
      const held: Socket[] = [];
      for (let i = 0; i < 2; i++) {
        const socket = connect(guarded.port, '127.0.0.1');
        socket.on('error', () => {});
        const status = await new Promise<number>((resolve) => {
          socket.once('data', (chunk) => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0)));
          socket.write(`GET /rt HTTP/1.1\r\nHost: localhost\r\n${UPGRADE_HEADERS}\r\n`);
        });
        assert.equal(status, 101, `WebSocket ${i + 1}`);
        held.push(socket);
      }
      assert.equal(await upgradeStatus(guarded.port, 'localhost'), 429, 'the third from one address');
      for (const socket of held) socket.destroy();
    } finally {
      await guarded.stop();
      dir.remove();
    }
  });
});

describe('switchboard serve: metrics and health', () => {
  it('keeps /healthz on the public port without the pid', async () => {
    const serve = await startServe(['--port', '0']);
    try {
      const body = (await (await fetch(`http://127.0.0.1:${serve.port}/healthz`)).json()) as Record<string, unknown>;
      assert.equal(body.status, 'ok');
      assert.equal('pid' in body, false);
    } finally {
      await serve.stop();
    }
  });

  it('with --metrics-port, serves /metrics and /healthz there only, and guests may no longer read metrics:server', async () => {
    const dir = configDir();
    const config = dir.write('metrics.json', { auth: { jwt: { secret: SECRET }, anonymous: true } });
    const serve = await startServe(['--port', '0', '--metrics-port', '0', '--config', config]);
    try {
      assert.notEqual(serve.metricsPort, serve.port);
      assert.ok(serve.metricsPort > 0);
      for (const path of ['/metrics', '/healthz']) {
        const response = await fetch(`http://127.0.0.1:${serve.port}${path}`);
        assert.equal(response.status, 404, `${path} is not on the public port`);
        await response.text();
      }
      const metrics = await fetch(`http://127.0.0.1:${serve.metricsPort}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^# TYPE switchboard_connections gauge/m);
      const health = (await (await fetch(`http://127.0.0.1:${serve.metricsPort}/healthz`)).json()) as Record<string, unknown>;
      assert.equal(health.status, 'ok');
      assert.equal(typeof health.pid, 'number', 'the private health has the pid');
      const page = await fetch(`http://127.0.0.1:${serve.metricsPort}/chat`);
      assert.equal(page.status, 404, 'only metrics and health on the metrics port');
      await page.text();
      assert.equal((await fetchWithHost(serve.metricsPort, '/metrics', 'evil.example')).status, 421, 'the metrics port checks Host too');

      const { client } = await guest(serve.port, 'Snoop');
      await assert.rejects(client.history('metrics:server', { limit: 5 }), (error: RealtimeError) => error.code === 'forbidden');
      await assert.rejects(client.subscribe('metrics:server').ready(), (error: RealtimeError) => error.code === 'forbidden');
      client.close();
      const token = signJwt({ sub: 'ops-1', name: 'Ops', exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
      const ops = await jwtClient(serve.port, token);
      assert.equal(ops.user, 'ops-1');
      const samples = await eventually(async () => {
        const history = await ops.client.history('metrics:server', { limit: 5 });
        return history.publications.length > 0 ? history.publications : undefined;
      }, 5000, 'a metrics sample');
      assert.ok(samples.length > 0, 'a signed-in user reads the metrics');
      ops.client.close();
    } finally {
      await serve.stop();
      dir.remove();
    }
  });
});

describe('switchboard serve: log lines and authentication', () => {
  it('escapes control characters and bidi overrides of a JWT sub in its log lines', async () => {
    const dir = configDir();
    const config = dir.write('log.json', { auth: { jwt: { secret: SECRET } } });
    const serve = await startServe(['--port', '0', '--config', config], {}, false);
    try {
      const sub = 'mallory\nconnected admin 1 from 10.0.0.1\x1b[2J\u202etxt.exe\u0085\r';
      const token = signJwt({ sub, name: 'Mallory', exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
      const { client, user } = await jwtClient(serve.port, token);
      assert.equal(user, sub);
      await serve.waitFor(/connected .*mallory/);
      client.close();
      await serve.waitFor(/disconnected .*mallory/);
      const output = serve.output();
      assert.match(output, /mallory\\nconnected admin 1 from 10\.0\.0\.1\\x1b\[2J\\u202etxt\.exe\\x85\\r\)/);
      assert.doesNotMatch(output, /^connected admin/m, 'no forged line');
      assert.doesNotMatch(output, /[\x1b\u202e\u0085\r]/, 'no raw ESC, RLO, NEL or CR');
    } finally {
      await serve.stop();
      dir.remove();
    }
  });

  it('with auth.jwt, refuses guests unless auth.anonymous is true', async () => {
    const dir = configDir();
    const closed = await startServe(['--port', '0', '--config', dir.write('jwt.json', { auth: { jwt: { secret: SECRET } } })]);
    const open = await startServe(['--port', '0', '--config', dir.write('jwt-guests.json', { auth: { jwt: { secret: SECRET }, anonymous: true } })]);
    try {
      assert.deepEqual(await guestOutcome(closed.port, { name: 'Guest', id: 'abcdefgh' }), { code: 4501 });
      const admitted = await guestOutcome(open.port, { name: 'Guest', id: 'abcdefgh' });
      assert.match(admitted.user ?? '', /^guest-/);
    } finally {
      await Promise.all([closed.stop(), open.stop()]);
      dir.remove();
    }
  });
});

describe('switchboard serve: guest identity', () => {
  let serve: ServeProcess;
  before(async () => {
    serve = await startServe(['--port', '0']);
  });
  after(async () => {
    await serve.stop();
  });

  it('assigns guest ids itself: a client cannot take another guest’s id, name or colour', async () => {
    const victim = await guest(serve.port, 'Ada', 'ada-browser-1');
    const thief = await guest(serve.port, 'Ada', 'ada-browser-1');
    const self = await guest(serve.port, 'Ada', victim.connected.user);
    for (const { connected } of [victim, thief, self]) {
      assert.match(connected.user, /^guest-[A-Za-z0-9_-]{16}$/);
      assert.notEqual(connected.user, 'guest-ada-browser-1');
    }
    assert.equal(new Set([victim, thief, self].map(({ connected }) => connected.user)).size, 3, 'three different users');
    assert.equal(new Set([victim, thief, self].map(({ connected }) => connected.data.name)).size, 3, 'three different display names');
    const room = victim.client.subscribe('chat:identity');
    await room.ready();
    const thiefRoom = thief.client.subscribe('chat:identity');
    await thiefRoom.ready();
    const members = await room.presence();
    const names = members.map((member) => (member.info as { name: string }).name);
    assert.equal(new Set(names).size, 2, `presence tells them apart: ${names.join(', ')}`);
    for (const { client } of [victim, thief, self]) client.close();
  });

  it('returns a signed guest token that keeps the same user across reconnects; a forged or altered one gets a new user', async () => {
    const first = await guest(serve.port, 'Grace');
    const token = first.connected.data.id;
    assert.match(token, /^[A-Za-z0-9_-]{38}$/, 'fits the pages’ stored-id check ([A-Za-z0-9_-]{6,40})');
    assert.equal(token.includes(first.connected.user.slice('guest-'.length)), true);
    first.client.close();
    const again = await guest(serve.port, 'Grace', token);
    assert.equal(again.connected.user, first.connected.user, 'the same guest after a reload');
    assert.equal(again.connected.data.name, first.connected.data.name);
    assert.equal(again.connected.data.color, first.connected.data.color);
    again.client.close();
    const altered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const forged = await guest(serve.port, 'Grace', altered);
    assert.notEqual(forged.connected.user, first.connected.user);
    const otherId = await guest(serve.port, 'Grace', `${token.slice(0, 15)}${token[15] === 'x' ? 'y' : 'x'}${token.slice(16)}`);
    assert.notEqual(otherId.connected.user, first.connected.user);
    forged.client.close();
    otherId.client.close();
  });

  it('normalises names (NFKC; no control, bidi, zero-width or # characters; 24 at most) and appends the user id’s discriminator', async () => {
    const cases: Array<[string, string]> = [
      ['  Ａｄａ\u200b\u202e\u2066 ', 'Ada'],
      ['Ad\u200da\u0007\n', 'Ada'],
      ['ad\u00ada#3f2a9c', 'ada3f2a9c'],
      ['x'.repeat(40), 'x'.repeat(24)],
      ['\u3164\u200b\u2800 ', 'guest'],
      ['a\u0301\u0301\u0301\u0301b', '\u00e1\u0301\u0301b'],
    ];
    for (const [sent, expected] of cases) {
      const { client, connected } = await guest(serve.port, sent);
      const discriminator = createHash('sha256').update(connected.user).digest('hex').slice(0, 6);
      assert.equal(connected.data.name, `${expected}#${discriminator}`, JSON.stringify(sent));
      client.close();
    }
  });
});
