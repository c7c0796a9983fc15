// Not a WebSocket server: the least work Node can do for the load generator's
// connect cycle, as a floor for the handshake cells. A `net.Server` that
// waits for the end of the request head, answers 101 with the accept key of
// its Sec-WebSocket-Key (SHA-1, as any server must), then answers the
// client's close frame with a close frame and a FIN. No validation, no
// limits, no WebSocket object: what is left is Node's own cost per connection
// (accept, the socket object, its handle, reads, writes, teardown).
//   PORT=9001 node bench/servers/node-floor.mjs
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';

const port = Number(process.env.PORT ?? 9001);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const CLOSE_1000 = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
const KEY_FIELD = /\r\nsec-websocket-key:\s*([^\r]*)\r\n/i;

const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  let upgraded = false;
  socket.on('data', (chunk) => {
    if (upgraded) {
      socket.end(CLOSE_1000);
      return;
    }
    const text = chunk.toString('latin1');
    if (!text.endsWith('\r\n\r\n')) return socket.destroy();
    const key = KEY_FIELD.exec(text)?.[1];
    if (key === undefined) return socket.destroy();
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    upgraded = true;
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  });
  socket.on('end', () => socket.end());
  socket.on('error', () => {});
});
server.listen(port, '127.0.0.1');
