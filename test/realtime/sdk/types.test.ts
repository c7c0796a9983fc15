// Type-level tests of the SDK's end-to-end typing: checked by `tsc --noEmit -p .`
// (each `@ts-expect-error` line must fail to typecheck); at run time the file
// only builds clients and subscriptions against a fake WebSocket.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RealtimeClient, type Subscription, type WebSocketConstructor } from '../../../src/realtime/sdk/index.js';
import { RealtimeClient as NodeRealtimeClient } from '../../../src/realtime/sdk/node.js';
import { FakeNetwork } from './fakes.js';

interface ChatApi {
  channels: { chat: { text: string }; '': { n: number } };
  methods: {
    'rooms.create': { params: { name: string }; result: { id: string } };
    'rooms.list': { params: undefined; result: string[] };
  };
  clientMethods: { confirm: { params: { question: string }; result: boolean } };
}

interface NamespacedOnly {
  channels: { chat: { text: string } };
}

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
function expectType<T extends true>(value?: T): T | undefined {
  return value;
}

/** Compiled only: never run (its calls would need a server). */
function typedUsage(client: RealtimeClient<ChatApi>): void {
  const lobby = client.subscribe('chat:lobby');
  expectType<Equal<typeof lobby, Subscription<{ text: string }>>>();
  lobby.on('publication', (publication) => {
    expectType<Equal<typeof publication.data, { text: string }>>();
  });
  void lobby.publish({ text: 'hi' });
  // @ts-expect-error wrong publication data for the channel
  void lobby.publish({ txt: 'hi' });

  const plain = client.subscribe('counter');
  expectType<Equal<typeof plain, Subscription<{ n: number }>>>();

  void client.publish('chat:lobby', { text: 'x' });
  // @ts-expect-error chat publications carry text
  void client.publish('chat:lobby', { n: 1 });

  const created = client.call('rooms.create', { name: 'x' });
  expectType<Equal<typeof created, Promise<{ id: string }>>>();
  void client.call('rooms.list');
  void client.call('rooms.create', { name: 'x' }, { timeout: 1000 });
  // @ts-expect-error unknown method
  void client.call('rooms.delete', { name: 'x' });
  // @ts-expect-error wrong params
  void client.call('rooms.create', { title: 'x' });
  // @ts-expect-error params are required
  void client.call('rooms.create');

  client.handle('confirm', (params) => params.question.length > 0);
  client.handle('confirm', async () => true);
  // @ts-expect-error the handler must return a boolean
  client.handle('confirm', () => 'yes');
  // @ts-expect-error unknown client method
  client.handle('deny', () => true);

  void client.history('chat:lobby').then((history) => {
    expectType<Equal<(typeof history.publications)[number]['data'], { text: string }>>();
  });
}

function namespacedUsage(client: RealtimeClient<NamespacedOnly>): void {
  client.subscribe('chat:a');
  // @ts-expect-error no default namespace in this API: a name needs a known namespace
  client.subscribe('lobby');
  // @ts-expect-error unknown namespace
  client.subscribe('news:today');
}

function untypedUsage(client: RealtimeClient): void {
  const subscription = client.subscribe('anything');
  expectType<Equal<typeof subscription, Subscription<unknown>>>();
  client.subscribe('ns:anything');
  const result = client.call('whatever');
  expectType<Equal<typeof result, Promise<unknown>>>();
  client.handle('anything', (params: unknown) => params);
}

function transports(): void {
  // The platform's WebSocket class fits the option.
  const platform: WebSocketConstructor = globalThis.WebSocket;
  void platform;
  // @ts-expect-error not a WebSocket class
  new RealtimeClient('ws://x', { WebSocket: class {} });
  // @ts-expect-error protocol is 'json' or 'msgpack'
  new RealtimeClient('ws://x', { protocol: 'cbor' });
}

void [typedUsage, namespacedUsage, untypedUsage, transports];

describe('sdk types', () => {
  it('builds typed clients (the type assertions are checked by tsc)', () => {
    const network = new FakeNetwork();
    const client = new RealtimeClient<ChatApi>('ws://x', { WebSocket: network.WebSocket });
    const subscription: Subscription<{ text: string }> = client.subscribe('chat:lobby');
    assert.equal(subscription.channel, 'chat:lobby');
    const nodeClient = new NodeRealtimeClient<ChatApi>('ws://x');
    assert.equal(nodeClient.state, 'disconnected');
    client.close();
    nodeClient.close();
  });
});
