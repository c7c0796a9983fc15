// `switchboard serve` with a config file's `proxy` section: a backend the
// test starts decides who connects (from the cookie passed through),
// replaces chat messages, and answers methods the demo does not define;
// the demo's own methods stay local; a bad `proxy` section is a usage error.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkConfig } from '../../src/cli/serve-config.js';
import { startBackend, type Backend } from '../realtime/server/proxy-backend.js';
import { isPush, ReplyError, WireClient } from '../realtime/server/wire-client.js';
import { startServe, type ServeProcess } from './serve-helpers.js';

describe('serve: proxy hooks from the config file', () => {
  let backend: Backend;
  let serve: ServeProcess;
  let dir: string;

  before(async () => {
    backend = await startBackend();
    backend.on('/rt/connect', ({ headers }) =>
      headers.cookie === 'sid=alice-session'
        ? { json: { result: { user: 'alice', info: { name: 'Alice', color: '#0b57d0' } } } }
        : { json: { error: { code: 'unauthorized', message: 'sign in first' } } },
    );
    backend.on('/rt/publish', ({ body }) => {
      const data = body.data as { text: string; sent: number };
      return data.text.includes('darn') ? { json: { error: { code: 'forbidden', message: 'mind your language' } } } : { json: { result: { data: { ...data, text: `${body.user as string}: ${data.text}` } } } };
    });
    backend.on('/rt/rpc', ({ body }) => ({ json: { result: { data: { method: body.method, user: body.user } } } }));
    dir = mkdtempSync(join(tmpdir(), 'serve-proxy-'));
    const config = join(dir, 'serve.json');
    writeFileSync(config, JSON.stringify({ proxy: { baseUrl: `${backend.url}rt/`, connect: 'connect', publish: 'publish', rpc: 'rpc', headers: ['cookie'], requestHeaders: { 'x-switchboard-key': 'serve-key' }, timeout: 2000 } }));
    serve = await startServe(['--port', '0', '--config', config]);
  });

  after(async () => {
    await serve?.stop();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the banner names the proxied events and their URLs', () => {
    assert.match(serve.output(), new RegExp(`proxy: connect ${backend.url}rt/connect, refresh ${backend.url}rt/connect, publish ${backend.url}rt/publish, rpc ${backend.url}rt/rpc`));
  });

  it('the backend names the user from the cookie, replaces chat messages, answers unknown methods', async () => {
    const url = `ws://127.0.0.1:${serve.port}/rt`;
    const { client, result } = await WireClient.connect(url, {}, { headers: { cookie: 'sid=alice-session' } });
    assert.equal(result.user, 'alice');
    await client.request('subscribe', { channel: 'chat:lobby' });
    await client.request('publish', { channel: 'chat:lobby', data: { text: 'hello', sent: 1 } });
    const [push] = await client.pushesOf(isPush('publication', 'chat:lobby'), 1);
    assert.deepEqual((push as { data: unknown }).data, { text: 'alice: hello', sent: 1 });
    await assert.rejects(client.request('publish', { channel: 'chat:lobby', data: { text: 'darn', sent: 2 } }), (error: unknown) => error instanceof ReplyError && error.code === 'forbidden' && /mind your language/.test(error.message));
    assert.deepEqual(await client.request('call', { method: 'orders.list' }), { data: { method: 'orders.list', user: 'alice' } });
    const snapshot = (await client.request('call', { method: 'board.snapshot', data: { board: 'b1' } })) as { data: { offset: number } };
    assert.equal(typeof snapshot.data.offset, 'number', 'a demo method stays local');
    assert.equal(backend.requests.filter((request) => request.path === '/rt/rpc').length, 1);
    assert.ok(backend.requests.every((request) => request.headers['x-switchboard-key'] === 'serve-key'), 'every call carries the configured header');
    await client.close();
  });

  it('without the cookie the backend refuses the connect: the client gets its error and close 4501', async () => {
    const client = await WireClient.open(`ws://127.0.0.1:${serve.port}/rt`);
    await assert.rejects(client.request('connect', {}), (error: unknown) => error instanceof ReplyError && error.code === 'unauthorized' && /sign in first/.test(error.message));
    assert.equal((await client.closed).code, 4501);
  });

  it('a proxy section with a mistake is refused with what to change', async () => {
    assert.throws(() => checkConfig('x.json', { proxy: { connect: 'connect' } }), /config file x.json: proxy.connect is not a URL \(a relative one needs proxy.baseUrl\)/);
    assert.throws(() => checkConfig('x.json', { proxy: { url: 'http://b/' } }), /unknown key "proxy.url"/);
    assert.throws(() => checkConfig('x.json', { proxy: { connect: 'http://b/', headers: ['content-length'] } }), /"content-length" cannot be passed/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ proxy: { rpc: 'http://b/', timeout: -1 } }));
    await assert.rejects(startServe(['--port', '0', '--config', bad]), /proxy.timeout must be a positive integer/);
  });
});
