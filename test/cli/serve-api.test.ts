// The server API of `switchboard serve` (docs/server-api.md), as users run
// it: the built bin with --workers 2 --redis --api-key, requests with fetch,
// clients through the Node SDK on both workers. And where the key comes
// from (--api-key, the config's api.key, SWITCHBOARD_API_KEY), and the API
// being off without one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerPublicationEvent, ServerSubscribedEvent } from '../../src/realtime/sdk/index.js';
import { resolveSettings } from '../../src/cli/serve-config.js';
import { UsageError } from '../../src/cli/args.js';
import { requirePeer } from '../interop/peers.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { eventually, guest, serveApi, startServe, type ApiAnswer, type ServeProcess } from './serve-helpers.js';

const KEY = 'serve-api-key-0123456789abcdef';

type Guest = Awaited<ReturnType<typeof guest>>;

/** A server API call, with the test's key unless told another. */
function api(port: number, method: string, params: unknown = {}, key = KEY): Promise<ApiAnswer> {
  return serveApi(port, key, method, params);
}

/** Connections of one user (the same guest token) until both workers hold at least one. */
async function tabsOnBothWorkers(port: number, name: string): Promise<Guest[]> {
  const first = await guest(port, name);
  const tabs = [first];
  const token = first.connected.data.id;
  for (let attempt = 0; attempt < 16 && new Set(tabs.map((tab) => tab.connected.data.worker)).size < 2; attempt++) {
    tabs.push(await guest(port, name, token));
  }
  assert.deepEqual([...new Set(tabs.map((tab) => tab.connected.data.worker))].sort(), [1, 2], 'tabs on both workers');
  assert.equal(new Set(tabs.map((tab) => tab.connected.user)).size, 1, 'one user');
  return tabs;
}

describe('switchboard serve --workers 2 --redis --api-key', () => {
  const redis = redisAvailability();
  const options = requirePeer('redis-server', redis.available, redis.reason);
  let server: RedisServer | undefined;
  let serve: ServeProcess | undefined;
  before(async () => {
    if (!redis.available) return;
    server = await RedisServer.start();
    serve = await startServe(['--port', '0', '--workers', '2', '--redis', server.url, '--api-key', KEY]);
  });
  after(async () => {
    if (serve !== undefined) assert.equal(await serve.stop(), 0);
    await server?.stop();
  });

  it('announces the API; info lists both workers', options, async () => {
    assert.match(serve!.output(), /server API {2}http:\/\/127\.0\.0\.1:\d+\/api\/<method>/);
    const info = await eventually(async () => {
      const answer = await api(serve!.port, 'info');
      const nodes = answer.body.result?.nodes as Array<{ name: string }> | undefined;
      return nodes?.length === 2 ? nodes : undefined;
    }, 10_000, 'both workers in info');
    assert.deepEqual(info.map((node) => node.name.replace(/^.* /, '')).sort(), ['1', '2']);
    const wrong = await api(serve!.port, 'info', {}, 'not-the-key-at-all');
    assert.equal(wrong.status, 401);
  });

  it('a publish reaches subscribers on both workers (through the chat schema)', options, async () => {
    const tabs = await tabsOnBothWorkers(serve!.port, 'Reader');
    try {
      const received = tabs.map((tab) => {
        const room = tab.client.subscribe('chat:api');
        return { ready: room.ready(), text: new Promise<string>((resolve) => room.on('publication', ({ data }) => resolve(data.text))) };
      });
      for (const { ready } of received) await ready;
      const refused = await api(serve!.port, 'publish', { channel: 'chat:api', data: { text: 5 } });
      assert.deepEqual([refused.status, refused.body.error?.code], [400, 'invalid_data']);
      const answer = await api(serve!.port, 'publish', { channel: 'chat:api', data: { text: 'from the API', sent: Date.now() } });
      assert.equal(answer.status, 200);
      for (const { text } of received) assert.equal(await text, 'from the API');
    } finally {
      for (const tab of tabs) tab.client.close();
    }
  });

  it('server-side subscribe delivers to all of a user\'s tabs on both workers; send reaches them all', options, async () => {
    const tabs = await tabsOnBothWorkers(serve!.port, 'Tabs');
    try {
      const user = tabs[0]!.connected.user;
      const subscribed = tabs.map((tab) => new Promise<ServerSubscribedEvent>((resolve) => tab.client.once('subscribed', resolve)));
      const publications = tabs.map((tab) => new Promise<ServerPublicationEvent>((resolve) => tab.client.once('publication', resolve)));
      const messages = tabs.map((tab) => new Promise<unknown>((resolve) => tab.client.once('message', resolve)));
      const answer = await api(serve!.port, 'subscribe', { user, channel: 'chat:tabs' });
      assert.deepEqual(answer.body.result, { connections: tabs.length });
      for (const event of await Promise.all(subscribed)) assert.equal(event.channel, 'chat:tabs');
      await api(serve!.port, 'publish', { channel: 'chat:tabs', data: { text: 'to every tab', sent: Date.now() } });
      for (const event of await Promise.all(publications)) assert.deepEqual([event.channel, (event.data as { text: string }).text], ['chat:tabs', 'to every tab']);
      const sent = await api(serve!.port, 'send', { user, data: { bell: 1 } });
      assert.deepEqual(sent.body.result, { connections: tabs.length });
      assert.deepEqual(await Promise.all(messages), tabs.map(() => ({ bell: 1 })));
    } finally {
      for (const tab of tabs) tab.client.close();
    }
  });

  it('disconnect of a user closes its connections on both workers', options, async () => {
    const tabs = await tabsOnBothWorkers(serve!.port, 'Banned');
    const bystander = await guest(serve!.port, 'Bystander');
    try {
      const closed = tabs.map((tab) => new Promise<{ code: number; reason: string }>((resolve) => tab.client.once('disconnected', resolve)));
      const answer = await api(serve!.port, 'disconnect', { user: tabs[0]!.connected.user, code: 4503, reason: 'banned' });
      assert.deepEqual(answer.body.result, { connections: tabs.length });
      for (const event of await Promise.all(closed)) assert.deepEqual([event.code, event.reason], [4503, 'banned']);
      assert.equal(bystander.client.state, 'connected');
    } finally {
      for (const tab of [...tabs, bystander]) tab.client.close();
    }
  });
});

describe('switchboard serve without an API key', () => {
  let serve: ServeProcess;
  before(async () => {
    serve = await startServe(['--port', '0'], { SWITCHBOARD_API_KEY: '' });
  });
  after(() => serve.stop());

  it('serves no API: 404', async () => {
    const response = await fetch(`http://127.0.0.1:${serve.port}/api/info`, { method: 'POST', headers: { 'X-API-Key': KEY } });
    assert.equal(response.status, 404);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /the server API is off/);
    assert.doesNotMatch(serve.output(), /server API/);
  });
});

describe('the API key settings', () => {
  it('--api-key, then the config file\'s api.key, then SWITCHBOARD_API_KEY; none: off', () => {
    const env = { SWITCHBOARD_API_KEY: 'from-the-environment-0123' };
    assert.equal(resolveSettings({}, {}, {}).api, undefined);
    assert.deepEqual(resolveSettings({}, {}, env).api, { key: env.SWITCHBOARD_API_KEY });
    assert.deepEqual(resolveSettings({}, { api: { key: 'from-the-config-file-0123', maxBodySize: 4096 } }, env).api, { key: 'from-the-config-file-0123', maxBodySize: 4096 });
    assert.deepEqual(resolveSettings({ 'api-key': 'from-the-command-line-01' }, { api: { key: 'from-the-config-file-0123' } }, env).api, { key: 'from-the-command-line-01' });
  });

  it('a key shorter than 16 characters, or a body limit without a key, is a usage error', () => {
    assert.throws(() => resolveSettings({ 'api-key': 'short' }, {}, {}), (error) => error instanceof UsageError && /at least 16 characters/.test(error.message));
    assert.throws(() => resolveSettings({}, { api: { maxBodySize: 10 } }, {}), (error) => error instanceof UsageError && /no API key/.test(error.message));
  });
});
