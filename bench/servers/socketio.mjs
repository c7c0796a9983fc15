// Socket.IO v4 (npm `socket.io`, default `ws` engine) for the real-time scenarios
// (see bench/README.md). WebSocket transport only, no HTTP long-polling.
//   join(room, ack)     the socket joins the room, then acks (the load generator
//                       waits for the ack before the run starts)
//   pub(room, data)     io.to(room).emit('msg', data): every socket in the room
//   echo(data, ack)     ack(data): request/response
//   pub(room, data, ack) also acks once emitted, when the client asks (the storm's
//                       publisher does, the rt-fanout one does not)
//
// With JWT_SECRET set (the rt-reconnect-storm scenario): connection state
// recovery on (`connectionStateRecovery`, in-memory session-aware adapter,
// maxDisconnectionDuration 2 min, the default) with `skipMiddlewares: false`, so
// that a middleware checks the HS256 JWT of the CONNECT packet's auth payload
// (`auth.token`, jose's jwtVerify, as Switchboard's `auth.jwt` does) on every
// connection, recovered ones included (Socket.IO's default, `true`, skips the
// middlewares of a recovered connection; SOCKETIO_SKIP_MIDDLEWARES=1 restores
// that default, to measure what the token check costs Socket.IO).
//
// With REDIS_URL set, the server is one node of several joined through Redis
// (`@socket.io/redis-adapter` over two ioredis connections: publish, subscribe;
// with REDIS_CLUSTER=1 two ioredis `Cluster` clients of the Redis Cluster that
// REDIS_URL is a node of); bench/servers/socketio-cluster.mjs runs it that way as
// a node:cluster worker.
// run.mjs removes REDIS_URL for the single-node server.
import http from 'node:http';
import { Server } from 'socket.io';
import { jwtVerify } from 'jose';

const port = Number(process.env.PORT ?? 9001);
const redisUrl = process.env.REDIS_URL;
const jwtSecret = process.env.JWT_SECRET;

const io = new Server({
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false, // the engine.io v4 default, stated
  maxHttpBufferSize: 1e6,
  ...(jwtSecret ? { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: process.env.SOCKETIO_SKIP_MIDDLEWARES === '1' } } : {}),
  // heartbeats stay on (25 s / 20 s, the defaults): the load generator answers them
});

if (redisUrl) {
  const [{ Redis, Cluster }, { createAdapter }] = await Promise.all([import('ioredis'), import('@socket.io/redis-adapter')]);
  // REDIS_CLUSTER=1: REDIS_URL is a node of a Redis Cluster, reached through an ioredis Cluster (the adapter's README way)
  const { hostname, port: redisPort } = new URL(redisUrl);
  const pubClient = process.env.REDIS_CLUSTER === '1' ? new Cluster([{ host: hostname, port: Number(redisPort) }]) : new Redis(redisUrl);
  const subClient = pubClient.duplicate();
  for (const client of [pubClient, subClient]) client.on('error', (error) => console.error('socketio redis:', error.message));
  await Promise.all([pubClient, subClient].map((client) => new Promise((resolve) => client.once('ready', resolve))));
  io.adapter(createAdapter(pubClient, subClient));
}

if (jwtSecret) {
  const key = new TextEncoder().encode(jwtSecret);
  io.use((socket, next) => {
    const token = socket.handshake.auth?.token;
    if (typeof token !== 'string') return next(new Error('unauthorized'));
    jwtVerify(token, key, { algorithms: ['HS256'] }).then(
      ({ payload }) => {
        socket.data.user = payload.sub;
        next();
      },
      () => next(new Error('unauthorized')),
    );
  });
}

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack();
  });
  socket.on('pub', (room, data, ack) => {
    io.to(room).emit('msg', data);
    if (typeof ack === 'function') ack();
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
// as a cluster worker: tell the primary once listening
httpServer.listen(port, '127.0.0.1', () => process.send?.('ready'));
