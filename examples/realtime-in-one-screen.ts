// The README's "Real-time in one screen". Run: npx tsx examples/realtime-in-one-screen.ts
import { createRealtimeServer } from 'switchboard/realtime';
import { RealtimeClient } from 'switchboard/sdk';

const rt = createRealtimeServer({ port: 0, namespaces: { chat: { history: { size: 100 }, presence: true } } }); // 0: any free port
rt.method('time', () => Date.now());
await rt.ready();

const client = new RealtimeClient(`ws://127.0.0.1:${rt.port}/`).connect();
const lobby = client.subscribe('chat:lobby');
const received = new Promise((resolve) => lobby.once('publication', resolve));
lobby.on('publication', ({ offset, data }) => console.log(offset, data));
lobby.on('subscribed', ({ recovered }) => recovered === false && console.log('reload: history window exceeded'));
await lobby.publish({ text: 'hi' });
console.log(await client.call('time'));
await received;

client.close(); // for good: no more reconnects
await rt.close(); // the port is released and the process exits
