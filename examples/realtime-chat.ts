// The real-time layer end to end: a server with JWT authentication, a chat
// namespace with history and presence, an RPC method both ways, and two
// clients — one of which loses its connection and recovers what it missed.
// Run: npx tsx examples/realtime-chat.ts
import { SignJWT } from 'jose';
import { createRealtimeServer, RpcError } from 'switchboard/realtime';
import { RealtimeClient } from 'switchboard/sdk';

/** One type describes the channels and methods; server and clients check against it. */
interface ChatApi {
  channels: { chat: { text: string } };
  methods: { 'rooms.create': { params: { name: string }; result: { id: string } } };
  clientMethods: { confirm: { params: { question: string }; result: boolean } };
}

const secret = 'a-secret-of-at-least-32-bytes-for-hs256!';
const server = createRealtimeServer<ChatApi>({
  port: 0,
  host: '127.0.0.1',
  auth: { jwt: { secret } },
  namespaces: { chat: { history: { size: 100, ttl: 3_600_000 }, presence: true, publish: 'subscribers' } },
});
server.method('rooms.create', async ({ name }, session) => {
  if (name === '') throw new RpcError('invalid_room', 'a room needs a name');
  const sure = await session.call('confirm', { question: `create ${name}?` });
  return { id: sure ? `room-${name}` : 'none' };
});
await server.ready();

const url = `ws://127.0.0.1:${server.port}/`;
const token = (user: string) => new SignJWT({ info: { name: user } }).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime('1h').sign(new TextEncoder().encode(secret));

const alice = new RealtimeClient<ChatApi>(url, { getToken: () => token('alice') }).connect();
const bob = new RealtimeClient<ChatApi>(url, { getToken: () => token('bob'), reconnect: { minDelay: 50, maxDelay: 100 } }).connect();
alice.handle('confirm', ({ question }) => {
  console.log('alice is asked:', question);
  return true;
});

const aliceLobby = alice.subscribe('chat:lobby');
const bobLobby = bob.subscribe('chat:lobby');
await Promise.all([aliceLobby.ready(), bobLobby.ready()]);
bobLobby.on('publication', ({ offset, data, info }) => console.log(`bob got #${offset} from ${info?.user}: ${data.text}`));
bobLobby.on('subscribed', ({ recovered }) => {
  if (recovered !== undefined) console.log('bob resubscribed, recovered:', recovered);
});

console.log('members:', (await alice.presence('chat:lobby')).map((member) => member.user).sort().join(', '));
await aliceLobby.publish({ text: 'hello' });
console.log('created:', (await alice.call('rooms.create', { name: 'games' })).id);
await alice.call('rooms.create', { name: '' }).catch((error: RpcError) => console.log('refused:', error.code));

// Bob's connection drops; two messages go by; he comes back and gets exactly those.
await new Promise((resolve) => setTimeout(resolve, 50));
server.sessions.get(bob.clientId!)?.disconnect(4000, 'network drop');
await aliceLobby.publish({ text: 'while you were away' });
await aliceLobby.publish({ text: 'still away?' });
await new Promise<void>((resolve) => bobLobby.on('publication', ({ offset }) => offset === 3 && resolve()));

alice.close();
bob.close();
await server.close();
