/**
 * The server API over HTTP (docs/server-api.md) against a real server, with
 * fetch: the key, malformed and oversized requests, unknown methods, every
 * method's effect on real WebSocket clients, the checks of publications,
 * batches that do nothing unless every command is valid; and personal
 * channels.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { RealtimeClient } from '../../../src/realtime/sdk/node.js';
import type { ServerPublicationEvent, ServerSubscribedEvent } from '../../../src/realtime/sdk/index.js';
import type { ServerMessage } from '../../../src/realtime/server/index.js';
import { API_KEY, startApiServer, userAuth, type ApiServer } from './api-helpers.js';
import { isPush, ReplyError, sleep, WireClient } from './wire-client.js';

const NAMESPACES = {
  '': {},
  chat: { history: { size: 10 }, presence: true },
  news: { publish: false as const, history: { size: 10 } },
  strict: {},
  notifications: { personal: true, history: { size: 10 } },
  dm: { personal: true, publish: 'clients' as const, presence: true },
};

const SCHEMAS = { channels: { strict: z.object({ text: z.string() }) } };

async function connect(server: ApiServer, user: string): Promise<WireClient> {
  const { client } = await WireClient.connect(server.url, { data: { user } });
  return client;
}

function pushesOf(client: WireClient, type: string, channel?: string): ServerMessage[] {
  return client.pushes.filter(isPush(type, channel));
}

describe('server API over HTTP', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer({ namespaces: NAMESPACES, schemas: SCHEMAS, auth: userAuth(), limits: { maxPublishSize: 1024 } }, { maxBodySize: 4096 });
  });
  after(() => server.close());

  describe('the key', () => {
    test('missing: 401 unauthorized; wrong: 401; X-API-Key or Authorization: apikey KEY: 200', async () => {
      const missing = await server.call('info', {}, {});
      assert.equal(missing.status, 401);
      assert.equal(missing.body.error?.code, 'unauthorized');
      assert.match(missing.body.error!.message, /missing/);
      const wrong = await server.call('info', {}, { 'X-API-Key': `${API_KEY}x` });
      assert.deepEqual([wrong.status, wrong.body.error?.code, wrong.body.error?.message], [401, 'unauthorized', 'wrong API key']);
      const shorter = await server.call('info', {}, { 'X-API-Key': API_KEY.slice(0, -1) });
      assert.equal(shorter.status, 401);
      const bearer = await server.call('info', {}, { Authorization: `Bearer ${API_KEY}` });
      assert.equal(bearer.status, 401, 'only the apikey scheme carries the key');
      assert.equal((await server.call('info', {}, { Authorization: `apikey ${API_KEY}` })).status, 200);
      assert.equal((await server.call('info', {}, { 'X-API-Key': API_KEY })).status, 200);
    });

    test('a wrong key learns nothing else: an unknown method is 401 too', async () => {
      const answer = await server.call('nope', {}, { 'X-API-Key': 'wrong' });
      assert.equal(answer.status, 401);
    });

    test('rt.api refuses a key shorter than 16 characters', () => {
      assert.throws(() => server.rt.api({ key: 'short' }), /at least 16 characters/);
    });
  });

  describe('malformed requests', () => {
    test('malformed JSON: 400 bad_request', async () => {
      const answer = await server.call('publish', '{"channel": "chat:a", "data": ');
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error?.code, 'bad_request');
      assert.match(answer.body.error!.message, /not valid JSON/);
    });

    test('params that are not an object, missing or unknown fields, wrong types: 400 with what is wrong', async () => {
      const cases: Array<[string, unknown, RegExp]> = [
        ['publish', [1, 2], /must be a JSON object/],
        ['publish', { channel: 'chat:a' }, /"data" is missing/],
        ['publish', { channel: 5, data: 1 }, /"channel" must be a non-empty string/],
        ['publish', { channel: 'chat:a', data: 1, chanel: 'x' }, /unknown field "chanel"/],
        ['disconnect', { user: 'a', client: 'b' }, /exactly one of "user" and "client"/],
        ['disconnect', { user: 'a', code: 1006 }, /invalid close code 1006/],
        ['history', { channel: 'chat:a', limit: -1 }, /"limit" must be an integer ≥ 0/],
        ['history', { channel: 'chat:a', since: { offset: 'x' } }, /"since" must be/],
        ['broadcast', { channels: [], data: 1 }, /"channels" must be a list of 1 to 1000/],
        ['batch', { commands: [{ publish: {}, send: {} }] }, /one key, the method/],
        ['channels', { pattern: 'x'.repeat(300) }, /at most 255/],
      ];
      for (const [method, params, message] of cases) {
        const answer = await server.call(method, params);
        assert.equal(answer.status, 400, `${method} ${JSON.stringify(params).slice(0, 80)}`);
        assert.equal(answer.body.error?.code, 'bad_request');
        assert.match(answer.body.error!.message, message);
      }
    });

    test('an unknown method: 404 not_found; another HTTP method than POST: 405', async () => {
      const unknown = await server.call('publsh', { channel: 'chat:a', data: 1 });
      assert.deepEqual([unknown.status, unknown.body.error?.code], [404, 'not_found']);
      assert.match(unknown.body.error!.message, /unknown method "publsh"/);
      const get = await fetch(`${server.base}/api/info`, { headers: { 'X-API-Key': API_KEY } });
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST');
      await get.text();
    });

    test('a body over maxBodySize: 413, declared (Content-Length) or streamed (chunked); nothing published', async () => {
      const data = 'x'.repeat(5000);
      const declared = await server.call('publish', { channel: 'chat:big', data });
      assert.deepEqual([declared.status, declared.body.error?.code], [413, 'limit_exceeded']);
      const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(`${server.base}/api/publish`, { method: 'POST', headers: { 'X-API-Key': API_KEY, 'Transfer-Encoding': 'chunked' } }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on('error', reject);
        request.write(`{"channel": "chat:big", "data": "`);
        for (let i = 0; i < 10; i++) request.write('y'.repeat(1000));
        request.end('"}');
      });
      assert.equal(streamed.status, 413);
      assert.equal((JSON.parse(streamed.body) as { error: { code: string } }).error.code, 'limit_exceeded');
      const history = await server.call('history', { channel: 'chat:big' });
      assert.equal(history.body.result?.offset, 0, 'nothing was published');
    });
  });

  describe('publish and broadcast', () => {
    test('publish reaches subscribers, with its offset and epoch; history keeps it', async () => {
      const alice = await connect(server, 'alice');
      try {
        await alice.request('subscribe', { channel: 'chat:pub' });
        const answer = await server.call('publish', { channel: 'chat:pub', data: { text: 'hello' } });
        assert.equal(answer.status, 200);
        assert.equal(answer.body.result?.offset, 1);
        assert.equal(typeof answer.body.result?.epoch, 'string');
        const push = (await alice.nextPush(isPush('publication', 'chat:pub'))) as { data: unknown; offset: number; info?: unknown };
        assert.deepEqual(push.data, { text: 'hello' });
        assert.equal(push.offset, 1);
        assert.equal(push.info, undefined, 'the server API publishes without publisher info');
      } finally {
        await alice.close();
      }
    });

    test('a namespace where clients may not publish takes the API\'s publications', async () => {
      const answer = await server.call('publish', { channel: 'news:today', data: 'extra' });
      assert.equal(answer.status, 200);
    });

    test('the checks of a client publish apply: unknown namespace, schema, size, __proto__, channel name', async () => {
      const cases: Array<[unknown, string, RegExp]> = [
        [{ channel: 'nowhere:x', data: 1 }, 'not_found', /unknown namespace/],
        [{ channel: 'strict:x', data: { text: 5 } }, 'invalid_data', /publication data/],
        [{ channel: 'chat:x', data: 'z'.repeat(2000) }, 'limit_exceeded', /over 1024 bytes/],
        [{ channel: 'chat:x', data: { ok: 1, nested: { __proto__: 1 } } }, 'invalid_data', /__proto__/],
        [{ channel: 'chat x', data: 1 }, 'bad_request', /1 to 255 visible ASCII/],
      ];
      for (const [params, code, message] of cases) {
        // JSON.stringify drops a __proto__ key set by an object literal: write it as JSON text.
        const body = JSON.stringify(params).replace('"nested":{}', '"nested":{"__proto__":1}');
        const answer = await server.call('publish', body);
        assert.equal(answer.status, 400, body.slice(0, 60));
        assert.equal(answer.body.error?.code, code, body.slice(0, 60));
        assert.match(answer.body.error!.message, message);
      }
      const strict = await server.call('publish', { channel: 'strict:x', data: { text: 'fine' } });
      assert.equal(strict.status, 200);
      assert.equal((await server.call('history', { channel: 'chat:x' })).body.result?.offset, 0, 'none of the refused ones was published');
    });

    test('broadcast publishes to every channel; one bad channel and nothing is published', async () => {
      const bob = await connect(server, 'bob');
      try {
        await bob.request('subscribe', { channel: 'chat:b1' });
        await bob.request('subscribe', { channel: 'chat:b2' });
        const refused = await server.call('broadcast', { channels: ['chat:b1', 'nowhere:b2'], data: 'x' });
        assert.equal(refused.status, 400);
        assert.match(refused.body.error!.message, /channels\[1\]: unknown namespace/);
        const answer = await server.call('broadcast', { channels: ['chat:b1', 'chat:b2'], data: 'both' });
        assert.equal(answer.status, 200);
        const responses = answer.body.result?.responses as Array<{ result: { offset: number } }>;
        assert.deepEqual(responses.map((response) => response.result.offset), [1, 1], 'the refused broadcast published nothing');
        await bob.pushesOf((push) => push.type === 'publication', 2);
        assert.deepEqual(bob.pushes.filter(isPush('publication')).map((push) => [(push as { channel: string }).channel, (push as { data: unknown }).data]), [
          ['chat:b1', 'both'],
          ['chat:b2', 'both'],
        ]);
      } finally {
        await bob.close();
      }
    });
  });

  describe('user-addressed operations', () => {
    test('subscribe: every connection of the user gets `subscribed` and then the publications; unsubscribe ends it', async () => {
      const tabs = [await connect(server, 'carol'), await connect(server, 'carol')];
      const other = await connect(server, 'dave');
      try {
        const answer = await server.call('subscribe', { user: 'carol', channel: 'chat:sub' });
        assert.deepEqual([answer.status, answer.body.result], [200, { connections: 2 }]);
        for (const tab of tabs) {
          const pushed = (await tab.nextPush(isPush('subscribed', 'chat:sub'))) as { offset: number; recoverable: boolean };
          assert.deepEqual([pushed.offset, pushed.recoverable], [0, true]);
        }
        const again = await server.call('subscribe', { user: 'carol', channel: 'chat:sub' });
        assert.deepEqual(again.body.result, { connections: 0 }, 'subscribed already');
        await server.call('publish', { channel: 'chat:sub', data: 'for carol' });
        for (const tab of tabs) assert.equal(((await tab.nextPush(isPush('publication', 'chat:sub'))) as { data: unknown }).data, 'for carol');
        const members = await server.call('presence_stats', { channel: 'chat:sub' });
        assert.deepEqual(members.body.result, { num_clients: 2, num_users: 1 }, 'a server-side subscription joins presence');
        const ended = await server.call('unsubscribe', { user: 'carol', channel: 'chat:sub' });
        assert.deepEqual(ended.body.result, { connections: 2 });
        for (const tab of tabs) assert.equal(((await tab.nextPush(isPush('unsubscribed', 'chat:sub'))) as { code: string }).code, 'server');
        await server.call('publish', { channel: 'chat:sub', data: 'after' });
        await sleep(50);
        for (const tab of tabs) assert.equal(pushesOf(tab, 'publication', 'chat:sub').length, 1);
        assert.equal(pushesOf(other, 'subscribed').length, 0, 'another user is not touched');
      } finally {
        for (const client of [...tabs, other]) await client.close();
      }
    });

    test('subscribe to an unknown namespace: 400 not_found, nobody subscribed', async () => {
      const erin = await connect(server, 'erin');
      try {
        const answer = await server.call('subscribe', { user: 'erin', channel: 'nowhere:x' });
        assert.deepEqual([answer.status, answer.body.error?.code], [400, 'not_found']);
        await sleep(30);
        assert.equal(pushesOf(erin, 'subscribed').length, 0);
      } finally {
        await erin.close();
      }
    });

    test('send: a `message` push to every connection of the user', async () => {
      const tabs = [await connect(server, 'frank'), await connect(server, 'frank')];
      const other = await connect(server, 'grace');
      try {
        const answer = await server.call('send', { user: 'frank', data: { alert: 'hi' } });
        assert.deepEqual(answer.body.result, { connections: 2 });
        for (const tab of tabs) assert.deepEqual(((await tab.nextPush(isPush('message'))) as { data: unknown }).data, { alert: 'hi' });
        await sleep(30);
        assert.equal(pushesOf(other, 'message').length, 0);
        const big = await server.call('send', { user: 'frank', data: 'q'.repeat(2000) });
        assert.deepEqual([big.status, big.body.error?.code], [400, 'limit_exceeded']);
      } finally {
        for (const client of [...tabs, other]) await client.close();
      }
    });

    test('disconnect a user (all connections, with the code and reason given) or one client', async () => {
      const tabs = [await connect(server, 'heidi'), await connect(server, 'heidi')];
      const ivan = [await connect(server, 'ivan'), await connect(server, 'ivan')];
      try {
        const answer = await server.call('disconnect', { user: 'heidi', code: 4503, reason: 'banned' });
        assert.deepEqual(answer.body.result, { connections: 2 });
        for (const tab of tabs) assert.deepEqual(await tab.closed, { code: 4503, reason: 'banned' });
        const ivanIds = [...server.rt.sessions.values()].filter((session) => session.user === 'ivan').map((session) => session.id);
        assert.equal(ivanIds.length, 2);
        const one = await server.call('disconnect', { client: ivanIds[0] });
        assert.deepEqual(one.body.result, { connections: 1 });
        const closed = await Promise.race([ivan[0]!.closed, ivan[1]!.closed]);
        assert.equal(closed.code, 4000, 'the default code lets the client come back');
        assert.equal(ivan.filter((client) => client.ws.readyState === 1).length, 1, "one of ivan's connections is left");
        const nobody = await server.call('disconnect', { user: 'nobody' });
        assert.deepEqual(nobody.body.result, { connections: 0 });
      } finally {
        for (const client of [...tabs, ...ivan]) await client.close();
      }
    });
  });

  describe('presence, history, channels, info', () => {
    test('presence and presence_stats; a namespace without presence: 400 unavailable', async () => {
      const judy = await connect(server, 'judy');
      const ken = await connect(server, 'ken');
      try {
        await judy.request('subscribe', { channel: 'chat:members' });
        await ken.request('subscribe', { channel: 'chat:members' });
        const presence = await server.call('presence', { channel: 'chat:members' });
        const members = presence.body.result?.presence as Record<string, { client: string; user: string }>;
        assert.deepEqual(Object.values(members).map((member) => member.user).sort(), ['judy', 'ken']);
        for (const [client, member] of Object.entries(members)) assert.equal(member.client, client);
        const stats = await server.call('presence_stats', { channel: 'chat:members' });
        assert.deepEqual(stats.body.result, { num_clients: 2, num_users: 2 });
        const none = await server.call('presence', { channel: 'news:x' });
        assert.deepEqual([none.status, none.body.error?.code], [400, 'unavailable']);
      } finally {
        await judy.close();
        await ken.close();
      }
    });

    test('history (latest, limit, since, limit 0) and history_remove, which keeps the position', async () => {
      for (const text of ['one', 'two', 'three']) await server.call('publish', { channel: 'chat:hist', data: text });
      const all = await server.call('history', { channel: 'chat:hist' });
      const publications = all.body.result?.publications as Array<{ offset: number; data: unknown }>;
      assert.deepEqual(publications.map((publication) => publication.data), ['one', 'two', 'three']);
      const epoch = all.body.result?.epoch as string;
      const latest = await server.call('history', { channel: 'chat:hist', limit: 1 });
      assert.deepEqual((latest.body.result?.publications as Array<{ data: unknown }>).map((p) => p.data), ['three']);
      const since = await server.call('history', { channel: 'chat:hist', since: { offset: 1, epoch } });
      assert.deepEqual((since.body.result?.publications as Array<{ offset: number }>).map((p) => p.offset), [2, 3]);
      const position = await server.call('history', { channel: 'chat:hist', limit: 0 });
      assert.deepEqual(position.body.result, { publications: [], offset: 3, epoch });
      const removed = await server.call('history_remove', { channel: 'chat:hist' });
      assert.deepEqual([removed.status, removed.body.result], [200, {}]);
      const after = await server.call('history', { channel: 'chat:hist' });
      assert.deepEqual(after.body.result, { publications: [], offset: 3, epoch });
      const next = await server.call('publish', { channel: 'chat:hist', data: 'four' });
      assert.deepEqual(next.body.result, { offset: 4, epoch }, 'the stream goes on');
      const noHistory = await server.call('history', { channel: 'strict:x' });
      assert.deepEqual([noHistory.status, noHistory.body.error?.code], [400, 'unavailable']);
    });

    test('channels (with a pattern) and info', async () => {
      const leo = await connect(server, 'leo');
      const mia = await connect(server, 'mia');
      try {
        await leo.request('subscribe', { channel: 'chat:room1' });
        await mia.request('subscribe', { channel: 'chat:room1' });
        await mia.request('subscribe', { channel: 'news:room2' });
        const all = await server.call('channels', {});
        assert.deepEqual(all.body.result?.channels, { 'chat:room1': { num_clients: 2 }, 'news:room2': { num_clients: 1 } });
        const chat = await server.call('channels', { pattern: 'chat:*' });
        assert.deepEqual(chat.body.result?.channels, { 'chat:room1': { num_clients: 2 } });
        const none = await server.call('channels', { pattern: '*3' });
        assert.deepEqual(none.body.result?.channels, {});
        const info = await server.call('info');
        const nodes = info.body.result?.nodes as Array<Record<string, unknown>>;
        assert.equal(nodes.length, 1);
        assert.equal(nodes[0]!.uid, server.rt.nodeId);
        assert.deepEqual([nodes[0]!.num_clients, nodes[0]!.num_users, nodes[0]!.num_channels, nodes[0]!.num_subs], [2, 2, 2, 3]);
      } finally {
        await leo.close();
        await mia.close();
      }
    });

    test('channels a page at a time: limit and cursor, ordered by name, every channel once with its count', async () => {
      const leo = await connect(server, 'leo');
      const mia = await connect(server, 'mia');
      const names = Array.from({ length: 25 }, (_, index) => `chat:page-${String(index).padStart(2, '0')}`);
      try {
        for (const channel of names) await leo.request('subscribe', { channel });
        for (const channel of names.filter((_, index) => index % 2 === 0)) await mia.request('subscribe', { channel });
        const walk = async (params: Record<string, unknown>): Promise<Array<Record<string, { num_clients: number }>>> => {
          const pages: Array<Record<string, { num_clients: number }>> = [];
          let cursor: string | undefined;
          do {
            const answer = await server.call('channels', { ...params, ...(cursor !== undefined && { cursor }) });
            assert.equal(answer.status, 200, JSON.stringify(answer.body));
            pages.push(answer.body.result?.channels as Record<string, { num_clients: number }>);
            cursor = answer.body.result?.next_cursor as string | undefined;
            if (cursor !== undefined) assert.match(cursor, /^[A-Za-z0-9_-]+$/);
            assert.ok(pages.length < 10, 'the walk ends');
          } while (cursor !== undefined);
          return pages;
        };
        const pages = await walk({ pattern: 'chat:page-*', limit: 10 });
        assert.deepEqual(pages.map((page) => Object.keys(page).length), [10, 10, 5]);
        const listed = pages.flatMap((page) => Object.keys(page));
        assert.deepEqual(listed, names, 'every channel once, in order of names, across pages');
        for (const page of pages) for (const [channel, stats] of Object.entries(page)) assert.deepEqual(stats, { num_clients: names.indexOf(channel) % 2 === 0 ? 2 : 1 }, channel);
        const tens = await walk({ pattern: 'chat:page-1*', limit: 4 });
        assert.deepEqual(tens.map((page) => Object.keys(page)), [names.slice(10, 14), names.slice(14, 18), names.slice(18, 20)]);
        const exact = await server.call('channels', { pattern: 'chat:page-0*', limit: 10 });
        assert.deepEqual(Object.keys(exact.body.result?.channels as object), names.slice(0, 10));
        assert.equal(exact.body.result?.next_cursor, undefined, 'no next_cursor when the page holds the last one');
        const first = await server.call('channels', { pattern: 'chat:page-*', limit: 3, cursor: '' });
        assert.deepEqual(Object.keys(first.body.result?.channels as object), names.slice(0, 3), "cursor '': the first page");
        const whole = await server.call('channels', { pattern: 'chat:page-*' });
        assert.equal(Object.keys(whole.body.result?.channels as object).length, 25, 'the default limit (1000) holds them all');
        assert.equal(whole.body.result?.next_cursor, undefined);
        const library = await server.rt.channels({ pattern: 'chat:page-*' });
        assert.deepEqual([...library.keys()], names, 'rt.channels lists every channel, as before');
        const libraryPage = await server.rt.channelPage({ pattern: 'chat:page-*', limit: 20 });
        assert.deepEqual([[...libraryPage.channels.keys()], libraryPage.next], [names.slice(0, 20), names[19]]);
        const libraryRest = await server.rt.channelPage({ pattern: 'chat:page-*', limit: 20, after: libraryPage.next! });
        assert.deepEqual([[...libraryRest.channels.keys()], libraryRest.next], [names.slice(20), undefined]);
        await assert.rejects(server.rt.channelPage({ limit: 0 }), RangeError);
        await assert.rejects(server.rt.connections({ limit: 10_001 }), RangeError);
      } finally {
        await leo.close();
        await mia.close();
      }
      for (let tries = 0; tries < 100 && (await server.rt.channels({ pattern: 'chat:page-*' })).size > 0; tries++) await sleep(50);
    });

    test('channels and connections: a malformed cursor, a limit out of range, an unknown field: 400, in a batch too', async () => {
      const connectionsCursor = Buffer.from('cl:abc').toString('base64url');
      const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        ['channels', { cursor: 'not a cursor!' }, /"cursor" is not a cursor of channels/],
        ['channels', { cursor: 'AAAA' }, /"cursor" is not a cursor of channels/],
        ['channels', { cursor: `${Buffer.from('ch:x').toString('base64url')}=` }, /"cursor" is not a cursor of channels/],
        ['channels', { cursor: Buffer.from('ch:').toString('base64url') }, /"cursor" is not a cursor of channels/],
        ['channels', { cursor: connectionsCursor }, /"cursor" is not a cursor of channels/],
        ['channels', { cursor: 12 }, /"cursor" must be a string/],
        ['channels', { limit: 0 }, /"limit" must be an integer from 1 to 10000/],
        ['channels', { limit: 10_001 }, /"limit" must be an integer from 1 to 10000/],
        ['channels', { limit: 2.5 }, /"limit" must be an integer/],
        ['channels', { limit: '10' }, /"limit" must be an integer/],
        ['channels', { pattern: 'chat:*', page: 2 }, /unknown field "page"/],
        ['connections', { cursor: Buffer.from('ch:chat:a').toString('base64url') }, /"cursor" is not a cursor of connections/],
        ['connections', { limit: 1001 }, /"limit" must be an integer from 1 to 1000/],
        ['connections', { user: '' }, /"user" must be a non-empty string/],
        ['connections', { channel: 'chat:a' }, /unknown field "channel"/],
      ];
      for (const [method, params, message] of cases) {
        const answer = await server.call(method, params);
        assert.deepEqual([answer.status, answer.body.error?.code], [400, 'bad_request'], `${method} ${JSON.stringify(params)}`);
        assert.match(answer.body.error!.message, message);
      }
      assert.equal((await server.call('connections', { cursor: connectionsCursor, limit: 1000 })).status, 200);
      const batch = await server.call('batch', { commands: [{ channels: { limit: 5 } }, { connections: { limit: 0 } }] });
      assert.deepEqual([batch.status, batch.body.error?.code], [400, 'bad_request']);
      assert.match(batch.body.error!.message, /^commands\[1\] \(connections\): "limit"/);
    });

    test('connections: every connection, by client id, a page at a time; by user; fewer after a disconnect', async () => {
      const before = Date.now();
      const nina1 = await WireClient.connect(server.url, { data: { user: 'nina' } });
      const nina2 = await WireClient.connect(server.url, { data: { user: 'nina' } });
      const omar = await WireClient.connect(server.url, { data: { user: 'omar' } });
      const ids = [nina1, nina2, omar].map(({ result }) => result['client'] as string);
      try {
        await nina1.client.request('subscribe', { channel: 'chat:conn-a' });
        await nina1.client.request('subscribe', { channel: 'chat:conn-b' });
        const nina = await server.call('connections', { user: 'nina' });
        assert.equal(nina.status, 200);
        const listed = nina.body.result?.connections as Record<string, Record<string, unknown>>;
        assert.deepEqual(Object.keys(listed), ids.slice(0, 2).sort(), 'ordered by client id');
        assert.equal(nina.body.result?.next_cursor, undefined);
        const one = listed[ids[0]!]!;
        assert.deepEqual(Object.keys(one).sort(), ['client', 'connected_at', 'http_version', 'node', 'node_name', 'num_subs', 'transport', 'user']);
        assert.deepEqual([one['client'], one['user'], one['node'], one['transport'], one['http_version'], one['num_subs']], [ids[0], 'nina', server.rt.nodeId, 'websocket', 1, 2]);
        assert.equal(typeof one['node_name'], 'string');
        assert.ok((one['connected_at'] as number) >= before - 1000 && (one['connected_at'] as number) <= Date.now(), 'connected_at: ms since the epoch');
        assert.equal(listed[ids[1]!]!['num_subs'], 0);

        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const answer = await server.call('connections', { limit: 1, ...(cursor !== undefined && { cursor }) });
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          pages.push(Object.keys(answer.body.result?.connections as object));
          cursor = answer.body.result?.next_cursor as string | undefined;
          assert.ok(pages.length < 20, 'the walk ends');
        } while (cursor !== undefined);
        assert.ok(pages.every((page) => page.length === 1));
        const all = pages.flat();
        assert.deepEqual(all, [...all].sort(), 'in order of client ids');
        assert.equal(new Set(all).size, all.length, 'no duplicates');
        for (const id of ids) assert.ok(all.includes(id), id);
        const byUser = await server.call('connections', { user: 'nina', limit: 1 });
        assert.deepEqual(Object.keys(byUser.body.result?.connections as object), [ids.slice(0, 2).sort()[0]]);
        const rest = await server.call('connections', { user: 'nina', limit: 1, cursor: byUser.body.result?.next_cursor });
        assert.deepEqual(Object.keys(rest.body.result?.connections as object), [ids.slice(0, 2).sort()[1]]);
        assert.equal(rest.body.result?.next_cursor, undefined);

        await nina1.client.close();
        let after: Record<string, unknown> = {};
        for (let tries = 0; tries < 100; tries++) {
          after = (await server.call('connections', { user: 'nina' })).body.result?.connections as Record<string, unknown>;
          if (Object.keys(after).length === 1) break;
          await sleep(50);
        }
        assert.deepEqual(Object.keys(after), [ids[1]]);
        const library = await server.rt.connections({ user: 'nina' });
        assert.deepEqual(library.connections.map((connection) => [connection.client, connection.user, connection.node, connection.transport]), [[ids[1], 'nina', server.rt.nodeId, 'websocket']]);
        assert.equal(library.next, undefined);
        const nobody = await server.call('connections', { user: 'nobody' });
        assert.deepEqual(nobody.body.result, { connections: {} });
        const batch = await server.call('batch', { commands: [{ connections: { user: 'omar' } }, { channels: { pattern: 'chat:conn-*' } }] });
        const replies = batch.body.result?.replies as Array<{ result: Record<string, Record<string, unknown>> }>;
        assert.deepEqual(Object.keys(replies[0]!.result['connections']!), [ids[2]]);
        assert.equal(typeof replies[1]!.result['channels'], 'object');
      } finally {
        await nina1.client.close();
        await nina2.client.close();
        await omar.client.close();
      }
    });
  });

  describe('batch', () => {
    test('runs its commands in order, each with its reply', async () => {
      const nina = await connect(server, 'nina');
      try {
        await nina.request('subscribe', { channel: 'chat:batch' });
        const answer = await server.call('batch', {
          commands: [{ publish: { channel: 'chat:batch', data: 1 } }, { send: { user: 'nina', data: 'note' } }, { history: { channel: 'chat:batch' } }],
        });
        assert.equal(answer.status, 200);
        const replies = answer.body.result?.replies as Array<{ result: Record<string, unknown> }>;
        assert.equal(replies[0]!.result.offset, 1);
        assert.deepEqual(replies[1]!.result, { connections: 1 });
        assert.equal((replies[2]!.result.publications as unknown[]).length, 1);
        await nina.nextPush(isPush('message'));
      } finally {
        await nina.close();
      }
    });

    test('one invalid command (anywhere) and nothing is done', async () => {
      const oscar = await connect(server, 'oscar');
      try {
        await oscar.request('subscribe', { channel: 'chat:atomic' });
        const invalid = [
          { 'publish': { channel: 'strict:y', data: { text: 1 } } },
          { 'nope': {} },
          { 'disconnect': { user: 'oscar', code: 1 } },
          { 'batch': { commands: [] } },
        ];
        for (const bad of invalid) {
          const answer = await server.call('batch', {
            commands: [{ publish: { channel: 'chat:atomic', data: 'first' } }, { send: { user: 'oscar', data: 'x' } }, bad, { disconnect: { user: 'oscar' } }],
          });
          assert.ok(answer.status === 400 || answer.status === 404, JSON.stringify(answer.body));
          assert.match(answer.body.error!.message, /^commands\[2\]/);
        }
        await sleep(50);
        assert.equal(oscar.ws.readyState, 1, 'not disconnected');
        assert.equal(oscar.pushes.filter((push) => push.type === 'publication' || push.type === 'message').length, 0);
        assert.equal((await server.call('history', { channel: 'chat:atomic' })).body.result?.offset, 0);
      } finally {
        await oscar.close();
      }
    });
  });
});

describe('personal channels', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer({ namespaces: NAMESPACES, auth: userAuth(), authorize: ({ channel }) => !channel.endsWith(',blocked') });
  });
  after(() => server.close());

  test('others may not publish or read presence either; the authorize hook still runs for the named user', async () => {
    const alice = await connect(server, 'alice');
    const bob = await connect(server, 'bob');
    try {
      const personal = (error: unknown): boolean => error instanceof ReplyError && error.code === 'forbidden' && /personal channel/.test(error.message);
      await assert.rejects(bob.request('publish', { channel: 'dm:#alice', data: 'hi' }), personal);
      await assert.rejects(bob.request('presence', { channel: 'dm:#alice' }), personal);
      await alice.request('publish', { channel: 'dm:#alice', data: 'note to self' });
      assert.deepEqual(((await alice.request('presence', { channel: 'dm:#alice' })) as { members: unknown[] }).members, []);
      await assert.rejects(
        alice.request('subscribe', { channel: 'dm:#alice,blocked' }),
        (error) => error instanceof ReplyError && error.code === 'forbidden' && /not allowed to subscribe/.test(error.message),
      );
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('only the user named after "#" may subscribe (and read history); others get forbidden', async () => {
    const alice = await connect(server, 'alice');
    const bob = await connect(server, 'bob');
    const anonymous = await connect(server, '');
    try {
      await alice.request('subscribe', { channel: 'notifications:#alice' });
      await assert.rejects(bob.request('subscribe', { channel: 'notifications:#alice' }), (error) => error instanceof ReplyError && error.code === 'forbidden');
      await assert.rejects(bob.request('history', { channel: 'notifications:#alice' }), (error) => error instanceof ReplyError && error.code === 'forbidden');
      await assert.rejects(anonymous.request('subscribe', { channel: 'notifications:#' }), (error) => error instanceof ReplyError && error.code === 'forbidden');
      await assert.rejects(bob.request('subscribe', { channel: 'notifications:alice' }), (error) => error instanceof ReplyError && error.code === 'forbidden');
      await bob.request('subscribe', { channel: 'notifications:#alice,bob' });
      await alice.request('subscribe', { channel: 'notifications:#alice,bob' });
      const answer = await server.call('publish', { channel: 'notifications:#alice', data: { unread: 1 } });
      assert.equal(answer.status, 200);
      assert.deepEqual(((await alice.nextPush(isPush('publication', 'notifications:#alice'))) as { data: unknown }).data, { unread: 1 });
      const history = (await alice.request('history', { channel: 'notifications:#alice' })) as { publications: unknown[] };
      assert.equal(history.publications.length, 1);
    } finally {
      for (const client of [alice, bob, anonymous]) await client.close();
    }
  });
});

describe('the SDK and server-side operations', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer({ namespaces: NAMESPACES, auth: userAuth(), limits: { maxSubscriptions: 2 } });
  });
  after(() => server.close());

  test('a server-side subscription: the client may end it; a connection at its limit is left as it is', async () => {
    const quinn = await connect(server, 'quinn');
    const full = await connect(server, 'quinn');
    try {
      await full.request('subscribe', { channel: 'chat:1' });
      await full.request('subscribe', { channel: 'chat:2' });
      assert.equal(await server.rt.user('quinn').subscribe('chat:limit'), 1, 'the connection at its limit is not subscribed');
      await quinn.nextPush(isPush('subscribed', 'chat:limit'));
      assert.deepEqual(await quinn.request('unsubscribe', { channel: 'chat:limit' }), {});
      await server.rt.publish('chat:limit', 'after');
      await sleep(50);
      assert.equal(pushesOf(quinn, 'publication').length, 0);
      assert.equal(pushesOf(full, 'subscribed').length, 0);
    } finally {
      await quinn.close();
      await full.close();
    }
  });

  test('client.on("subscribed" / "publication" / "unsubscribed" / "message") and serverSubscriptions', async () => {
    const client = new RealtimeClient(server.url, { data: { user: 'pat' } });
    try {
      const connected = new Promise((resolve) => client.once('connected', resolve));
      client.connect();
      await connected;
      const subscribed = new Promise<ServerSubscribedEvent>((resolve) => client.once('subscribed', resolve));
      const published = new Promise<ServerPublicationEvent>((resolve) => client.once('publication', resolve));
      const message = new Promise<unknown>((resolve) => client.once('message', resolve));
      assert.equal(await server.rt.user('pat').subscribe('chat:sdk'), 1);
      assert.equal((await subscribed).channel, 'chat:sdk');
      assert.deepEqual([...client.serverSubscriptions], ['chat:sdk']);
      await server.rt.publish('chat:sdk', { hello: 'pat' });
      assert.deepEqual(await published, { channel: 'chat:sdk', offset: 1, data: { hello: 'pat' } });
      assert.equal(await server.rt.user('pat').send({ ping: 1 }), 1);
      assert.deepEqual(await message, { ping: 1 });
      const unsubscribed = new Promise<{ channel: string; code: string }>((resolve) => client.once('unsubscribed', resolve));
      assert.equal(await server.rt.user('pat').unsubscribe('chat:sdk'), 1);
      assert.deepEqual(await unsubscribed, { channel: 'chat:sdk', code: 'server', reason: '' });
      assert.equal(client.serverSubscriptions.size, 0);
    } finally {
      client.close();
    }
  });

  test('over the HTTP fallback transport too: subscribed, publication, message, disconnect', async () => {
    const client = new RealtimeClient(server.url, { data: { user: 'rita' }, transports: ['http'], reconnect: false });
    try {
      const connected = new Promise((resolve) => client.once('connected', resolve));
      client.connect();
      await connected;
      assert.equal(client.transport, 'http');
      const subscribed = new Promise<ServerSubscribedEvent>((resolve) => client.once('subscribed', resolve));
      const published = new Promise<ServerPublicationEvent>((resolve) => client.once('publication', resolve));
      const message = new Promise<unknown>((resolve) => client.once('message', resolve));
      const gone = new Promise<{ code: number; reason: string }>((resolve) => client.once('disconnected', resolve));
      assert.deepEqual((await server.call('subscribe', { user: 'rita', channel: 'chat:http' })).body.result, { connections: 1 });
      assert.equal((await subscribed).channel, 'chat:http');
      await server.call('publish', { channel: 'chat:http', data: 'over http' });
      assert.equal((await published).data, 'over http');
      await server.call('send', { user: 'rita', data: 'note' });
      assert.equal(await message, 'note');
      assert.deepEqual((await server.call('disconnect', { user: 'rita', code: 4503, reason: 'bye' })).body.result, { connections: 1 });
      const event = await gone;
      assert.deepEqual([event.code, event.reason], [4503, 'bye']);
    } finally {
      client.close();
    }
  });

  test('library checks throw before anything is sent: unknown namespace, bad close code, bytes in send', async () => {
    await assert.rejects(server.rt.user('pat').subscribe('nowhere:x'), /unknown namespace/);
    await assert.rejects(server.rt.user('pat').disconnect({ code: 1006 }), /invalid close code/);
    await assert.rejects(server.rt.user('pat').send(new Uint8Array(2)), /cannot hold bytes/);
  });
});
