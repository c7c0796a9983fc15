// A server and a client talking: echo with types, a broadcast, a clean close.
// Run: npx tsx examples/server-and-client.ts
import { WebSocketServer } from 'switchboard/server';
import { WebSocket } from 'switchboard/client';

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', subprotocols: ['chat'] });
await wss.ready();
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const socket = new WebSocket(`ws://127.0.0.1:${wss.port}/`, ['chat']);
socket.binaryType = 'arraybuffer';
const received: string[] = [];
socket.onopen = () => {
  console.log('open, protocol:', socket.protocol);
  socket.send('héllo');
  socket.send(new Uint8Array([1, 2, 3]));
};
socket.onmessage = (event) => {
  received.push(typeof event.data === 'string' ? `text ${event.data}` : `binary ${new Uint8Array(event.data as ArrayBuffer).join(',')}`);
  if (received.length === 2) wss.broadcast('to everyone');
  if (received.length === 3) socket.close(1000, 'done');
};
socket.onclose = async (event) => {
  console.log(received.join('\n'));
  console.log('closed:', event.code, event.reason, event.wasClean);
  await wss.close();
};
