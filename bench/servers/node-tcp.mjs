// Not a WebSocket server: a plain TCP echo in Node (every chunk read is
// written back), run with `loadgen --raw` like raw-tcp. No framing, masking,
// UTF-8 or limits: what is left is Node's own cost per read and write (the
// stream machinery, the libuv handle, the syscalls), the floor under any
// WebSocket server written in JavaScript on `net` in the echo cells.
//   PORT=9001 node bench/servers/node-tcp.mjs
import { createServer } from 'node:net';

const port = Number(process.env.PORT ?? 9001);

const server = createServer({ noDelay: true }, (socket) => {
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('error', () => {});
});
server.listen(port, '127.0.0.1');
