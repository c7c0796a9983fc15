// Socket.IO v4 (npm `socket.io`, default `ws` engine) for the real-time scenarios
// (see bench/README.md). WebSocket transport only, no HTTP long-polling.
//   join(room, ack)     the socket joins the room, then acks (the load generator
//                       waits for the ack before the run starts)
//   pub(room, data)     io.to(room).emit('msg', data): every socket in the room
//   echo(data, ack)     ack(data): request/response
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 9001);

const io = new Server({
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false, // the engine.io v4 default, stated
  maxHttpBufferSize: 1e6,
  // heartbeats stay on (25 s / 20 s, the defaults): the load generator answers them
});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack();
  });
  socket.on('pub', (room, data) => {
    io.to(room).emit('msg', data);
  });
  socket.on('echo', (data, ack) => {
    if (typeof ack === 'function') ack(data);
  });
});

const httpServer = http.createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
io.attach(httpServer);
httpServer.listen(port, '127.0.0.1');
