// A project of one's own that uses Switchboard's shipped types: it imports
// every subpath export of package.json and uses a few typed APIs.
// test/types/consumer.test.ts type-checks it against dist/ (never run).
import { CloseCode, Connection, type RemoteProtocolError } from 'switchboard/protocol';
import { WebSocketServer, type ServerWebSocket } from 'switchboard/server';
import { WebSocket, CloseEvent, type MessageData } from 'switchboard/client';
import { createProxyHooks, createRealtimeServer, DisconnectError, type ConnectionInfo, type NodeInfo, type ServerApiMethods, type Session } from 'switchboard/realtime';
import { RealtimeClient } from 'switchboard/sdk';
import { createRealtimeHooks, RealtimeProvider } from 'switchboard/react';
import { createElement } from 'react';
import { webcrypto } from 'node:crypto';

interface ChatApi {
  channels: { chat: { text: string; from: string } };
  methods: { 'rooms.create': { params: { name: string }; result: { id: string } } };
  clientMethods: { confirm: { params: { question: string }; result: boolean } };
}

// switchboard/protocol
const core = new Connection(
  { role: 'server', maxMessageSize: 64 * 1024 },
  {
    write: (bytes) => console.log(bytes.byteLength),
    end: () => console.log('end'),
    message: (data, binary) => console.log(binary ? data : data.toString()),
    closeFrame: (code, reason) => console.log(code, reason),
    violation: (error: RemoteProtocolError) => console.log(error.code, error.closeCode),
  },
);
core.receiveData(Buffer.from('810548656c6c6f', 'hex'));
core.sendClose(CloseCode.NORMAL, 'bye');

// switchboard/server
const wss = new WebSocketServer<{ user: string }>({
  port: 0,
  authenticate: () => ({ accept: true, data: { user: 'ada' } }),
});
wss.on('connection', (ws: ServerWebSocket<{ user: string }>) => {
  const user: string = ws.data.user;
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.send(`hello ${user}`);
});

// switchboard/client
const socket = new WebSocket('ws://127.0.0.1:8080/', ['chat'], { handshakeTimeout: 5000 });
socket.binaryType = 'arraybuffer';
socket.onmessage = (event) => {
  const data: MessageData = event.data;
  // @ts-expect-error: a message's data is a string, an ArrayBuffer, a Blob or a Buffer, not a number
  const wrong: number = event.data;
  console.log(data, wrong, event.origin);
};
socket.addEventListener('close', (event) => console.log(event.code, event.reason, event.wasClean), { once: true });
socket.addEventListener('pong', (event) => console.log(event.data.byteLength));
socket.removeEventListener('close', null, { capture: false });
const made = new CloseEvent('close', { code: 1000, reason: 'done', wasClean: true, bubbles: false });
console.log(made.code);

// switchboard/realtime
const key = await webcrypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
const rt = createRealtimeServer<ChatApi>({
  port: 0,
  namespaces: { chat: { history: { size: 100 }, presence: true } },
  auth: { jwt: { publicKey: key, algorithms: ['HS256'] }, anonymous: true },
});
rt.method('rooms.create', ({ name }) => ({ id: `room-${name}` }));
rt.on('connect', (session: Session<ChatApi>) => console.log(session.id, session.remoteAddress));
await rt.ready();
const api: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean = rt.api({ key: 'a-key-of-16-chars-or-more' });
const tabs: number = await rt.user('ada').subscribe('chat:lobby');
const nodes: NodeInfo[] = await rt.nodes();
const counts: Map<string, number> = await rt.channels({ pattern: 'chat:*' });
const firstPage = await rt.channelPage({ pattern: 'chat:*', limit: 100 });
const nextPage: Map<string, number> = (await rt.channelPage({ pattern: 'chat:*', after: firstPage.next })).channels;
const adaConnections: ConnectionInfo[] = (await rt.connections({ user: 'ada' })).connections;
const channelsPage: ServerApiMethods['channels']['result'] = { channels: { 'chat:lobby': { num_clients: 1 } }, next_cursor: 'Y2g6Y2hhdDpsb2JieQ' };
const connectionsParams: ServerApiMethods['connections']['params'] = { user: 'ada', limit: 10, cursor: channelsPage.next_cursor ?? '' };
console.log(nextPage, adaConnections, connectionsParams);
const publishParams: ServerApiMethods['publish']['params'] = { channel: 'chat:lobby', data: { text: 'hi' } };
const batch: ServerApiMethods['batch']['params'] = { commands: [{ publish: publishParams }, { send: { user: 'ada', data: 1 } }] };
// @ts-expect-error: a user-addressed method takes a user or a client
const missingTarget: ServerApiMethods['send']['params'] = { data: 1 };
console.log(api, tabs, nodes, counts, batch, missingTarget);

// proxy hooks, typed for the server's API
const proxy = createProxyHooks<ChatApi>({ baseUrl: 'http://127.0.0.1:3000/rt/', connect: 'connect', publish: 'publish', rpc: 'rpc', headers: ['cookie'] });
const proxied = createRealtimeServer<ChatApi>({
  noServer: true,
  auth: { authenticate: proxy.authenticate },
  authorize: async (context) => (context.channel === 'chat:closed' ? false : (proxy.authorize?.(context) ?? true)),
  fallbackMethod: proxy.fallbackMethod,
});
// @ts-expect-error: proxy options take URLs as strings
createProxyHooks({ connect: 42 });
console.log(new DisconnectError(4503, 'banned').closeCode);
await proxied.close();
proxy.close();

// switchboard/sdk
const client = new RealtimeClient<ChatApi>('ws://127.0.0.1:8080/rt').connect();
const room = client.subscribe('chat:lobby');
room.on('publication', ({ data }) => console.log(data.text.toUpperCase(), data.from));
client.on('subscribed', ({ channel, offset }) => console.log(channel, offset));
client.on('publication', ({ channel, data }) => console.log(channel, data));
const serverChannels: ReadonlySet<string> = client.serverSubscriptions;
console.log(serverChannels.size);
await room.publish({ text: 'hi', from: 'ada' });
const created: { id: string } = await client.call('rooms.create', { name: 'games' });
// @ts-expect-error: rooms.create takes a name
await client.call('rooms.create', { title: 'games' });
console.log(created.id);

// switchboard/react
const chat = createRealtimeHooks<ChatApi>();
function Room() {
  const { publish, state } = chat.useChannel('chat:lobby', ({ data }) => console.log(data.text));
  const { members } = chat.usePresence('chat:lobby');
  // @ts-expect-error: chat publications carry text and from
  void publish({ text: 'hi' });
  return createElement('button', { onClick: () => void publish({ text: 'hi', from: 'ada' }) }, `${state} ${members.length}`);
}
console.log(createElement(RealtimeProvider<ChatApi>, { client }, createElement(Room)));
client.close();
await rt.close();
await wss.close();
