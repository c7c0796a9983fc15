// `switchboard serve` as users run it: the built bin as a child process, its
// HTTP endpoints, the real-time endpoint through the Node SDK, the config
// file, usage errors, TLS, and --workers with a real redis-server.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RealtimeError } from '../../src/realtime/sdk/index.js';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import type { DemoApi, MetricsSample } from '../../src/cli/apps/web/api.js';
import { signJwt } from '../realtime/server/wire-client.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { requirePeer } from '../interop/peers.js';
import { selfSignedCertificate } from '../node/server-helpers.js';
import { resolveSettings } from '../../src/cli/serve-config.js';
import { busiestChannels } from '../../src/cli/serve-metrics.js';
import { cleanName, colorOf } from '../../src/cli/serve-server.js';
import { freePort, runCli } from './cli-helpers.js';
import { eventually, guest, startServe, type ServeProcess } from './serve-helpers.js';

const METRIC_NAMES = [
  'switchboard_connections',
  'switchboard_messages_received_total',
  'switchboard_messages_sent_total',
  'switchboard_received_bytes_total',
  'switchboard_sent_bytes_total',
  'switchboard_channels',
  'switchboard_channel_subscribers',
  'switchboard_broker_up',
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
];

/** GET /healthz on a new connection each time (so that the cluster hands it to the next worker). */
function healthz(port: number): Promise<{ worker: number; pid: number }> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(JSON.parse(body) as { worker: number; pid: number }));
    }).on('error', reject);
  });
}

function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  assert.ok(match, `${name} in /metrics`);
  return Number(match[1]);
}

describe('switchboard serve: HTTP endpoints', () => {
  let serve: ServeProcess;
  let base: string;
  before(async () => {
    serve = await startServe(['--port', '0']);
    base = `http://127.0.0.1:${serve.port}`;
  });
  after(async () => {
    assert.equal(await serve.stop(), 0, 'SIGTERM shuts down cleanly');
  });

  it('prints where the apps are', () => {
    const banner = serve.output();
    for (const path of ['/chat', '/dashboard', '/whiteboard', '/metrics', '/healthz']) assert.match(banner, new RegExp(`http://127\\.0\\.0\\.1:${serve.port}${path}`));
    assert.match(banner, new RegExp(`ws://127\\.0\\.0\\.1:${serve.port}/rt`));
    assert.match(banner, /broker: in memory/);
  });

  it('serves the index page linking the four apps', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const html = await response.text();
    for (const app of ['/chat', '/dashboard', '/whiteboard', '/ticker', '/game', '/notifications', '/admin']) assert.match(html, new RegExp(`href="${app}"`));
    assert.match(html, /Real-time demos/);
  });

  it('serves each app page with its module script and the shared stylesheet', async () => {
    for (const app of ['chat', 'dashboard', 'whiteboard']) {
      const html = await (await fetch(`${base}/${app}`)).text();
      assert.match(html, new RegExp(`<script type="module" src="/apps/${app}\\.js"></script>`), app);
      const script = await fetch(`${base}/apps/${app}.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(await script.text(), /from '\.\/common\.js'/);
    }
    const css = await fetch(`${base}/apps/style.css`);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    await css.text();
  });

  it('serves the browser SDK bundle as built, with an ETag', async () => {
    const response = await fetch(`${base}/switchboard-sdk.js`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), readFileSync('dist/browser/switchboard-sdk.js', 'utf8'));
    const etag = response.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${base}/switchboard-sdk.js`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
  });

  it('answers /healthz with the process state, without the pid', async () => {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, unknown>;
    assert.deepEqual(body, { status: 'ok', worker: 1, broker: 'memory' });
  });

  it('serves Prometheus text at /metrics whose counters follow the traffic', async () => {
    const first = await fetch(`${base}/metrics`);
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const before = await first.text();
    for (const name of METRIC_NAMES) assert.match(before, new RegExp(`^# TYPE ${name} `, 'm'), name);
    const { client } = await guest(serve.port, 'Metrics');
    const subscription = client.subscribe('chat:metrics-test');
    await subscription.ready();
    await subscription.publish({ text: 'counted', sent: Date.now() });
    const during = await (await fetch(`${base}/metrics`)).text();
    assert.equal(metricValue(during, 'switchboard_connections'), metricValue(before, 'switchboard_connections') + 1);
    assert.ok(metricValue(during, 'switchboard_messages_received_total') >= metricValue(before, 'switchboard_messages_received_total') + 3);
    assert.ok(metricValue(during, 'switchboard_messages_sent_total') >= metricValue(before, 'switchboard_messages_sent_total') + 3);
    assert.ok(metricValue(during, 'switchboard_received_bytes_total') > metricValue(before, 'switchboard_received_bytes_total'));
    assert.match(during, /^switchboard_channel_subscribers\{(?=[^}]*channel="chat:metrics-test")(?=[^}]*worker="1")[^}]*\} 1$/m);
    client.close();
  });

  it('answers 404 with links, 405 for other methods, and 426 for a plain GET of /rt', async () => {
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /href="\/chat"/);
    const post = await fetch(`${base}/chat`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.text();
    const rt = await fetch(`${base}/rt`);
    assert.equal(rt.status, 426);
    await rt.text();
  });
});

describe('switchboard serve: the real-time endpoint', () => {
  let serve: ServeProcess;
  before(async () => {
    serve = await startServe(['--port', '0']);
  });
  after(async () => {
    await serve.stop();
  });

  it('lets guests in with their nickname: a server-assigned user id, a guest token, and presence info {name, color}', async () => {
    const { client, connected } = await guest(serve.port, '  Ada\u0007 ', 'ada-browser-1');
    assert.match(connected.user, /^guest-[A-Za-z0-9_-]{16}$/);
    assert.match(connected.data.name, /^Ada#[0-9a-f]{6}$/);
    assert.match(connected.data.color, /^#[0-9a-f]{6}$/);
    assert.equal(connected.data.worker, 1);
    assert.match(connected.data.id, /^[A-Za-z0-9_-]{38}$/);
    const room = client.subscribe('chat:guests');
    await room.ready();
    const [member] = await room.presence();
    assert.deepEqual(member?.info, { name: connected.data.name, color: connected.data.color });
    client.close();
  });

  it('relays chat messages with history, and typing without history', async () => {
    const ada = await guest(serve.port, 'Ada');
    const bob = await guest(serve.port, 'Bob');
    const adaRoom = ada.client.subscribe('chat:relay');
    await adaRoom.ready();
    await adaRoom.publish({ text: 'first', sent: 1 });
    const received = new Promise<{ text: string; from: unknown }>((resolve) => {
      bob.client.subscribe('chat:relay').on('publication', ({ data, info }) => resolve({ text: data.text, from: info?.info }));
    });
    await bob.client.getSubscription('chat:relay')!.ready();
    await adaRoom.publish({ text: 'second', sent: 2 });
    assert.deepEqual(await received, { text: 'second', from: { name: ada.connected.data.name, color: ada.connected.data.color } });
    const history = await bob.client.history('chat:relay', { limit: 100 });
    assert.deepEqual(history.publications.map((publication) => publication.data.text), ['first', 'second']);
    const typing = ada.client.subscribe('typing:relay');
    await typing.ready();
    await typing.publish({ typing: true });
    await assert.rejects(ada.client.history('typing:relay'), (error: RealtimeError) => error.code === 'unavailable');
    ada.client.close();
    bob.client.close();
  });

  it('publishes its metrics on metrics:server once a second; clients may not publish there', async () => {
    const { client } = await guest(serve.port, 'Viewer');
    const samples: MetricsSample[] = [];
    const subscription = client.subscribe('metrics:server');
    subscription.on('publication', ({ data }) => samples.push(data));
    await eventually(() => (samples.length >= 2 ? true : undefined), 5000, 'two samples');
    const sample = samples[samples.length - 1]!;
    assert.equal(sample.worker, 1);
    assert.ok(sample.connections >= 1);
    assert.ok(sample.rss > 0 && sample.heapUsed > 0);
    assert.ok(sample.messagesOutPerSecond > 0, 'the samples themselves are messages out');
    assert.ok(sample.channels.some(([channel]) => channel === 'metrics:server'));
    await assert.rejects(subscription.publish(sample), (error: RealtimeError) => error.code === 'forbidden');
    const history = await client.history('metrics:server', { limit: 10 });
    assert.ok(history.publications.length >= 2, 'the dashboard starts from the kept samples');
    client.close();
  });
});

describe('switchboard serve: settings and helpers', () => {
  it('takes flags over the config file over $PORT and the defaults', () => {
    const saved = process.env.PORT;
    process.env.PORT = '9100';
    try {
      const defaults = resolveSettings({});
      assert.equal(defaults.port, 9100);
      assert.equal(defaults.host, '127.0.0.1');
      assert.equal(defaults.workers, 1);
      assert.equal(defaults.redis, undefined);
      assert.deepEqual(Object.keys(defaults.namespaces).sort(), ['board', 'chat', 'cursor', 'game', 'metrics', 'notifications', 'ticker', 'typing']);
      assert.deepEqual(defaults.namespaces['notifications'], { personal: true, history: { size: 100, ttl: 24 * 3_600_000 }, publish: false, publisherInfo: false });
      const file = { port: 9200, host: '0.0.0.0', workers: 3, redis: 'redis://r:6379', namespaces: { chat: { presence: true }, news: {} } };
      const fromFile = resolveSettings({}, file);
      assert.deepEqual([fromFile.port, fromFile.host, fromFile.workers, fromFile.redis], [9200, '0.0.0.0', 3, 'redis://r:6379']);
      assert.deepEqual(fromFile.namespaces.chat, { presence: true }, 'a namespace of the file replaces the demo one');
      assert.deepEqual(fromFile.namespaces.news, {});
      assert.equal(fromFile.namespaces.metrics?.history?.size, 360, 'two minutes of samples per worker');
      const flags = resolveSettings({ port: '9300', host: '::1', workers: '2', redis: 'redis://flag:6379' }, file);
      assert.deepEqual([flags.port, flags.host, flags.workers, flags.redis], [9300, '::1', 2, 'redis://flag:6379']);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  it('reads the Host, Origin, socket, metrics and guard settings; a JWT turns guests off unless anonymous is true', () => {
    const defaults = resolveSettings({});
    assert.deepEqual([defaults.allowedHosts, defaults.allowedOrigins, defaults.metrics], [undefined, undefined, undefined]);
    assert.deepEqual([defaults.maxSockets, defaults.maxSocketsPerIp, defaults.auth.anonymous], [10_000, 512, true]);
    const file = {
      allowedHosts: ['a.example'],
      allowedOrigins: true as const,
      maxSockets: 100,
      maxSocketsPerIp: 10,
      metricsPort: 9100,
      websocket: { maxConnectionsPerIp: 4, connectionLimitExempt: ['10.0.0.0/8'] },
      auth: { jwt: { secret: 'x'.repeat(32) } },
    };
    const fromFile = resolveSettings({}, file);
    assert.deepEqual(fromFile.allowedHosts, ['a.example']);
    assert.equal(fromFile.allowedOrigins, 'any');
    assert.deepEqual([fromFile.maxSockets, fromFile.maxSocketsPerIp], [100, 10]);
    assert.deepEqual(fromFile.metrics, { port: 9100, host: '127.0.0.1' });
    assert.deepEqual(fromFile.websocket, file.websocket);
    assert.equal(fromFile.auth.anonymous, false, 'auth.jwt without anonymous: no guests');
    assert.equal(resolveSettings({}, { auth: { jwt: { secret: 'x'.repeat(32) }, anonymous: true } }).auth.anonymous, true);
    const flags = resolveSettings({ 'allowed-hosts': 'b.example, .c.example', 'allowed-origins': '*', 'max-sockets': '7', 'metrics-port': '0', 'metrics-host': '::1' }, file);
    assert.deepEqual(flags.allowedHosts, ['b.example', '.c.example']);
    assert.equal(flags.allowedOrigins, 'any');
    assert.equal(flags.maxSockets, 7);
    assert.deepEqual(flags.metrics, { port: 0, host: '::1' });
  });

  it('reads the game flags: bots and tick rate, within their bounds', () => {
    assert.deepEqual(resolveSettings({}).game, { bots: 0, tickRate: 20 });
    assert.deepEqual(resolveSettings({ 'game-bots': '50', 'game-tick-rate': '30' }).game, { bots: 50, tickRate: 30 });
    assert.throws(() => resolveSettings({ 'game-bots': '201' }), /--game-bots expects a whole number/);
    assert.throws(() => resolveSettings({ 'game-bots': '-1' }), /--game-bots expects a whole number/);
    assert.throws(() => resolveSettings({ 'game-tick-rate': '5' }), /--game-tick-rate expects a whole number/);
    assert.throws(() => resolveSettings({ 'game-tick-rate': '61' }), /--game-tick-rate expects a whole number/);
  });

  it('reads the ticker rate, within its bounds', () => {
    assert.equal(resolveSettings({}).tickerRate, 2000);
    assert.equal(resolveSettings({ 'ticker-rate': '500' }).tickerRate, 500);
    assert.throws(() => resolveSettings({ 'ticker-rate': '19' }), /--ticker-rate expects a whole number/);
    assert.throws(() => resolveSettings({ 'ticker-rate': '20001' }), /--ticker-rate expects a whole number/);
  });

  it('cleans nicknames and picks stable colours', () => {
    assert.equal(cleanName('  Ada\u0000 Lovelace\n', 'guest'), 'Ada Lovelace');
    assert.equal(cleanName('   ', 'guest'), 'guest');
    assert.equal(cleanName(42, 'guest'), 'guest');
    assert.equal(cleanName('x'.repeat(40), 'guest').length, 24);
    assert.equal(colorOf('guest-abc'), colorOf('guest-abc'));
  });

  it('lists the busiest channels first', () => {
    const channels = new Map([['b', 1], ['a', 1], ['c', 5]]);
    assert.deepEqual(busiestChannels(channels, 2), [['c', 5], ['a', 1]]);
  });
});

describe('switchboard serve: command line', () => {
  it('is listed by switchboard help and prints its own help', async () => {
    const main = await runCli(['help']);
    assert.match(main.stdout, /^ {2}serve +run the real-time server with the demo apps/m);
    const help = await runCli(['serve', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: switchboard serve/);
    assert.match(help.stdout, /--workers N/);
    assert.match(help.stdout, /--game-bots N/);
    assert.match(help.stdout, /--game-tick-rate N/);
    assert.match(help.stdout, /--ticker-rate N/);
    // Every URL form --redis accepts is named in the help: one Redis, Cluster seeds, Sentinel.
    assert.match(help.stdout, /redis:\/\/h1:7000,h2:7000/);
    assert.match(help.stdout, /redis\+sentinel:\/\//);
  });

  it('exits 2 with a message for usage errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-config-'));
    try {
      const write = (name: string, text: string): string => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const cases: Array<[string[], RegExp]> = [
        [['--workers', '2'], /--workers 2 needs --redis <url>/],
        [['--workers', '0'], /--workers expects a whole number from 1/],
        [['--port', 'x'], /--port expects 0-65535/],
        [['--tls-cert', 'cert.pem'], /--tls-cert and --tls-key go together/],
        [['--redis', 'localhost:6379'], /--redis expects a URL like redis:\/\//],
        [['--bogus'], /unknown option --bogus/],
        [['--config', join(dir, 'missing.json')], /cannot read the config file/],
        [['--config', write('bad.json', '{"port": ')], /not valid JSON/],
        [['--config', write('unknown.json', '{"prot": 80}')], /unknown key "prot"/],
        [['--config', write('type.json', '{"auth": {"anonymous": "no"}}')], /"auth.anonymous" must be a boolean/],
        [['--config', write('nobody.json', '{"auth": {"anonymous": false}}')], /nobody could connect/],
        [['--config', write('namespace.json', '{"namespaces": {"chat": {"history": {"size": -1}}}}')], /invalid configuration: namespace "chat"/],
        [['--config', write('exempt.json', '{"websocket": {"connectionLimitExempt": ["10.0.0.0/33"]}}')], /"websocket.connectionLimitExempt": "10\.0\.0\.0\/33" is not an IP address or subnet/],
        [['--config', write('ws-hosts.json', '{"websocket": {"allowedHosts": ["a.example"]}}')], /"allowedHosts" and "allowedOrigins" go at the top level/],
        [['--config', write('ws-unknown.json', '{"websocket": {"maxConnection": 3}}')], /unknown key "websocket.maxConnection"/],
        [['--config', write('timeout.json', '{"websocket": {"handshakeTimeout": 0}}')], /"websocket.handshakeTimeout" must be at least 100/],
        [['--config', write('hosts.json', '{"allowedHosts": "a.example"}')], /"allowedHosts" must be a list of strings, or true for any/],
        [['--config', write('secret.json', '{"auth": {"guestSecret": "short"}}')], /"auth.guestSecret" must be at least 32 characters/],
        [['--metrics-host', '0.0.0.0'], /--metrics-host needs --metrics-port/],
        [['--metrics-port', 'x'], /--metrics-port expects 0-65535/],
        [['--max-sockets', '1.5'], /--max-sockets expects a whole number/],
        [['--allowed-hosts', ','], /--allowed-hosts expects a comma-separated list/],
      ];
      for (const [args, message] of cases) {
        const { code, stderr } = await runCli(['serve', '--port', '0', ...args]);
        assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
        assert.match(stderr, message, args.join(' '));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 and says what to do when the port is taken', async () => {
    const serve = await startServe(['--port', '0']);
    const { code, stderr } = await runCli(['serve', '--port', String(serve.port)]);
    assert.equal(code, 1);
    assert.match(stderr, /EADDRINUSE.*pick another with --port/);
    await serve.stop();
  });

  it('exits 1 when Redis cannot be reached', async () => {
    const port = await freePort();
    const { code, stderr } = await runCli(['serve', '--port', '0', '--redis', `redis://127.0.0.1:${port}`]);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`Redis at redis://127\\.0\\.0\\.1:${port} is not reachable`));
  });

  it('takes settings from --config, with flags winning: JWT users by their sub and name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-config-'));
    const secret = 'a-secret-of-at-least-32-bytes-for-hs256!';
    const config = join(dir, 'serve.json');
    writeFileSync(config, JSON.stringify({ port: 1, host: '127.0.0.1', auth: { jwt: { secret }, anonymous: false }, namespaces: { news: { history: { size: 5 } } } }));
    const serve = await startServe(['--config', config, '--port', '0']);
    try {
      const token = signJwt({ sub: 'u42', name: 'Grace', exp: Math.floor(Date.now() / 1000) + 600 }, secret);
      const client = new RealtimeClient(`ws://127.0.0.1:${serve.port}/rt`, { token, reconnect: false });
      const connected = new Promise<{ user: string; data?: unknown }>((resolve) => client.once('connected', resolve));
      client.connect();
      const result = await connected;
      assert.equal(result.user, 'u42');
      assert.match((result.data as { name: string }).name, /^Grace#[0-9a-f]{6}$/);
      const news = await client.history('news:today');
      assert.deepEqual(news.publications, [], 'a namespace added by the config file');
      client.close();
      const anonymous = new RealtimeClient(`ws://127.0.0.1:${serve.port}/rt`, { data: { name: 'x', id: 'abcdefgh' }, reconnect: false });
      const refused = new Promise<{ code: number }>((resolve) => anonymous.once('disconnected', resolve));
      anonymous.connect();
      assert.equal((await refused).code, 4501);
    } finally {
      await serve.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves HTTPS and wss:// with --tls-cert and --tls-key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-tls-'));
    const { key, cert } = selfSignedCertificate();
    writeFileSync(join(dir, 'key.pem'), key);
    writeFileSync(join(dir, 'cert.pem'), cert);
    const serve = await startServe(['--port', '0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')]);
    try {
      assert.match(serve.output(), /listening on https:\/\/127\.0\.0\.1:\d+\//);
      assert.match(serve.output(), /wss:\/\/127\.0\.0\.1:\d+\/rt/);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: serve.port, path: '/healthz', ca: cert, servername: 'localhost' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200);
      const client = new RealtimeClient(`wss://localhost:${serve.port}/rt`, { data: { name: 'Tls', id: 'tls-client' }, reconnect: false, webSocketOptions: { tls: { ca: cert } } });
      const connected = new Promise<{ user: string }>((resolve) => client.once('connected', resolve));
      client.connect();
      assert.match((await connected).user, /^guest-[A-Za-z0-9_-]{16}$/);
      client.close();
    } finally {
      await serve.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('switchboard serve --workers with Redis', () => {
  const redis = redisAvailability();
  const options = requirePeer('redis-server', redis.available, redis.reason);
  let server: RedisServer | undefined;
  let serve: ServeProcess | undefined;

  before(async () => {
    if (!redis.available) return;
    server = await RedisServer.start();
    serve = await startServe(['--port', '0', '--workers', '2', '--redis', server.url, '--metrics-port', '0']);
  });
  after(async () => {
    if (serve !== undefined) assert.equal(await serve.stop(), 0, 'the primary stops its workers and exits 0');
    await server?.stop();
  });

  it('runs two workers behind one port, and a chat message crosses them', options, async () => {
    assert.match(serve!.output(), /broker: Redis at redis:\/\/127\.0\.0\.1:\d+, 2 workers/);
    const clients: Array<Awaited<ReturnType<typeof guest>>> = [];
    try {
      const byWorker = new Map<number, Awaited<ReturnType<typeof guest>>>();
      for (let attempt = 0; attempt < 12 && byWorker.size < 2; attempt++) {
        const connected = await guest(serve!.port, `User${attempt}`);
        clients.push(connected);
        if (!byWorker.has(connected.connected.data.worker)) byWorker.set(connected.connected.data.worker, connected);
      }
      assert.deepEqual([...byWorker.keys()].sort(), [1, 2], 'connections reach both workers');
      const [first, second] = [byWorker.get(1)!, byWorker.get(2)!];
      const room = second.client.subscribe('chat:across');
      const received = new Promise<string>((resolve) => room.on('publication', ({ data }) => resolve(data.text)));
      await room.ready();
      const sender = first.client.subscribe('chat:across');
      await sender.ready();
      await sender.publish({ text: 'from worker 1', sent: Date.now() });
      assert.equal(await received, 'from worker 1');
      const members = await room.presence();
      assert.equal(new Set(members.map((member) => member.client)).size, 2, 'presence spans the workers');
    } finally {
      for (const { client } of clients) client.close();
    }
  });

  it('shares the guest secret among its workers: a guest token keeps its user on either worker', options, async () => {
    const first = await guest(serve!.port, 'Roamer');
    const token = first.connected.data.id;
    first.client.close();
    const workers = new Set<number>();
    for (let attempt = 0; attempt < 12 && workers.size < 2; attempt++) {
      const again = await guest(serve!.port, 'Roamer', token);
      assert.equal(again.connected.user, first.connected.user, `worker ${again.connected.data.worker}`);
      workers.add(again.connected.data.worker);
      again.client.close();
    }
    assert.deepEqual([...workers].sort(), [1, 2], 'both workers accepted the token');
  });

  it('starts a worker again when it dies; its clients reconnect and recover', options, async () => {
    const viewer = await guest(serve!.port, 'Survivor');
    const health = () => healthz(serve!.metricsPort);
    const seen = new Map<number, number>();
    await eventually(async () => {
      const { worker, pid } = await health();
      seen.set(worker, pid);
      return seen.size === 2 ? true : undefined;
    }, 10_000, 'both workers answering /healthz');
    const victim = viewer.connected.data.worker;
    const room = viewer.client.subscribe('chat:restart');
    const texts: string[] = [];
    room.on('publication', ({ data }) => texts.push(data.text));
    await room.ready();
    const other = await guest(serve!.port, 'Sender');
    const sender = other.client.subscribe('chat:restart');
    await sender.ready();
    await sender.publish({ text: 'before', sent: 0 });
    process.kill(seen.get(victim)!, 'SIGKILL');
    await serve!.waitFor(new RegExp(`worker ${victim} \\(pid ${seen.get(victim)}\\) exited \\(signal SIGKILL\\); starting it again`));
    await eventually(() => (viewer.client.state === 'connected' && other.client.state === 'connected' ? true : undefined), 15_000, 'clients back');
    await sender.publish({ text: 'after', sent: 1 });
    await eventually(() => (texts.includes('after') ? true : undefined), 10_000, 'the message after the restart');
    assert.deepEqual(texts, ['before', 'after']);
    await eventually(async () => {
      const { worker, pid } = await health();
      return worker === victim && pid !== seen.get(victim) ? true : undefined;
    }, 15_000, 'the new worker answering');
    viewer.client.close();
    other.client.close();
  });
});
