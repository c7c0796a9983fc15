// switchboard/react under server rendering (react-dom/server renderToString):
// a tree using every hook renders its initial state and opens no socket —
// neither with a client made by the provider (`create` is never called) nor
// with a client given to it (never connected) — checked with a TCP server
// that counts the connections made to it. Also: the bindings import the
// SDK's public entry only, and only its types.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createElement, StrictMode, type ReactNode } from 'react';
import { renderToString } from 'react-dom/server';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import { NoRealtimeClientError, RealtimeProvider, useCall, useChannel, useConnectionState, useHistory, usePresence, useRealtimeClient } from '../../src/react/index.js';

function Probe(): ReactNode {
  const state = useConnectionState();
  const client = useRealtimeClient();
  const channel = useChannel('chat:lobby', () => {});
  const presence = usePresence('chat:lobby');
  const history = useHistory('chat:lobby', { limit: 10 });
  const time = useCall('time');
  return createElement(
    'p',
    null,
    [
      `state=${state}`,
      `client=${client === null ? 'none' : 'given'}`,
      `channel=${channel.state}`,
      `members=${presence.members.length}`,
      `history=${history.loading ? 'loading' : history.publications.length}`,
      `call=${time.pending}`,
    ].join(' '),
  );
}

describe('switchboard/react under server rendering', () => {
  let tcp: Server;
  let connections = 0;
  let url = '';

  before(async () => {
    tcp = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(tcp.address() as AddressInfo).port}/rt`;
  });

  after(() => new Promise<void>((resolve) => tcp.close(() => resolve())));

  it('renders the initial state with a provider that creates its client: create() is never called, nothing connects', async () => {
    let created = 0;
    const html = renderToString(
      createElement(
        StrictMode,
        null,
        createElement(RealtimeProvider, {
          create: () => {
            created += 1;
            return new RealtimeClient(url);
          },
          children: createElement(Probe),
        }),
      ),
    );
    assert.equal(html, '<p>state=disconnected client=none channel=unsubscribed members=0 history=loading call=false</p>');
    await sleep(100);
    assert.equal(created, 0);
    assert.equal(connections, 0);
  });

  it('renders with a given client without connecting or subscribing it', async () => {
    const client = new RealtimeClient(url, { reconnect: false });
    const html = renderToString(createElement(RealtimeProvider, { client, children: createElement(Probe) }));
    assert.equal(html, '<p>state=disconnected client=given channel=unsubscribed members=0 history=loading call=false</p>');
    await sleep(100);
    assert.equal(client.state, 'disconnected');
    assert.equal(client.getSubscription('chat:lobby'), undefined);
    assert.equal(connections, 0);
    client.close();
  });

  it('rejects publish and call with NoRealtimeClientError when there is no client', async () => {
    let publish: ((data: unknown) => Promise<unknown>) | undefined;
    let call: ((params?: unknown) => Promise<unknown>) | undefined;
    function Grab(): ReactNode {
      publish = useChannel('chat:lobby').publish;
      call = useCall('time').call;
      return null;
    }
    renderToString(createElement(RealtimeProvider, { create: () => new RealtimeClient(url), children: createElement(Grab) }));
    await assert.rejects(publish!({ text: 'hi' }), NoRealtimeClientError);
    await assert.rejects(call!(), (error: unknown) => error instanceof NoRealtimeClientError && error.code === 'no_client');
    assert.equal(connections, 0);
  });

  it('renders outside any provider', () => {
    assert.equal(renderToString(createElement(Probe)), '<p>state=disconnected client=none channel=unsubscribed members=0 history=loading call=false</p>');
  });

  it("imports the SDK's public entry only, and only its types", async () => {
    const dir = new URL('../../src/react/', import.meta.url);
    for (const file of await readdir(dir)) {
      const source = await readFile(new URL(file, dir), 'utf8');
      for (const [statement, from] of source.matchAll(/^import\s[^;]*?from\s+'([^']+)';/gms)) {
        if (from === 'react' || from.startsWith('./')) continue;
        assert.equal(from, '../realtime/sdk/index.js', `${file}: ${statement}`);
        assert.match(statement, /^import type /, `${file} imports the SDK at run time: ${statement}`);
      }
    }
  });
});
