// Type-level tests of switchboard/react: checked by `tsc --noEmit -p .` (each
// `@ts-expect-error` line must fail to typecheck). The hooks are typed from
// the same API type as the SDK's RealtimeClient. Nothing here is rendered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElement } from 'react';
import type { PresenceMember, PublishResult, RealtimeClient } from '../../src/realtime/sdk/index.js';
import { createRealtimeHooks, RealtimeProvider, useCall, useChannel } from '../../src/react/index.js';

interface ChatApi {
  channels: { chat: { text: string }; '': { n: number } };
  methods: {
    'rooms.create': { params: { name: string }; result: { id: string } };
    'rooms.list': { params: undefined; result: string[] };
  };
}

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
function expectType<T extends true>(value?: T): T | undefined {
  return value;
}

interface NamespacedOnly {
  channels: { chat: { text: string } };
}

const chat = createRealtimeHooks<ChatApi>();
const only = createRealtimeHooks<NamespacedOnly>();

/** Compiled only: hooks cannot run outside a component. */
function typedUsage(): void {
  const lobby = chat.useChannel('chat:lobby', (publication) => {
    expectType<Equal<typeof publication.data, { text: string }>>();
  });
  expectType<Equal<Parameters<typeof lobby.publish>[0], { text: string }>>();
  expectType<Equal<ReturnType<typeof lobby.publish>, Promise<PublishResult>>>();
  void lobby.publish({ text: 'hi' });
  // @ts-expect-error chat publications carry text
  void lobby.publish({ n: 1 });
  // @ts-expect-error no such namespace (and no default namespace to fall into)
  only.useChannel('news:front');

  const counter = chat.useChannel('counter');
  void counter.publish({ n: 1 });
  // @ts-expect-error the default namespace carries n
  void counter.publish({ text: 'x' });

  const history = chat.useHistory('chat:lobby', { limit: 10 });
  expectType<Equal<(typeof history.publications)[number]['data'], { text: string }>>();

  const presence = chat.usePresence('chat:lobby');
  expectType<Equal<typeof presence.members, PresenceMember[]>>();
  // @ts-expect-error no such namespace
  only.usePresence('news:front');

  const create = chat.useCall('rooms.create');
  expectType<Equal<ReturnType<typeof create.call>, Promise<{ id: string }>>>();
  expectType<Equal<typeof create.result, { id: string } | undefined>>();
  void create.call({ name: 'x' });
  // @ts-expect-error params are { name: string }
  void create.call({ title: 'x' });
  // @ts-expect-error params are required
  void create.call();
  const list = chat.useCall('rooms.list');
  void list.call();
  // @ts-expect-error unknown method
  chat.useCall('rooms.delete');

  const client = chat.useRealtimeClient();
  expectType<Equal<typeof client, RealtimeClient<ChatApi> | null>>();
  const state = chat.useConnectionState();
  expectType<Equal<typeof state, 'disconnected' | 'connecting' | 'connected' | 'closed'>>();

  // Untyped: any channel or method, unknown data.
  const any = useChannel('whatever', (publication) => {
    expectType<Equal<typeof publication.data, unknown>>();
  });
  void any.publish(42);
  void useCall('anything').call({ free: 'form' });
}

/** The provider takes a typed client, or a factory of one. */
function providers(client: RealtimeClient<ChatApi>): void {
  createElement(RealtimeProvider<ChatApi>, { client });
  createElement(RealtimeProvider<ChatApi>, { create: () => client, linger: 100 });
  // @ts-expect-error linger is a number of ms
  createElement(RealtimeProvider<ChatApi>, { client, linger: 'long' });
}

describe('switchboard/react types', () => {
  it('compile (checked by tsc; nothing runs)', () => {
    assert.equal(typeof typedUsage, 'function');
    assert.equal(typeof providers, 'function');
  });
});
