// Socket.IO as a cluster of NODES processes (3 by default) behind one port,
// joined through Redis: a node:cluster primary (cluster-primary.mjs) whose
// workers each run socketio.mjs with `@socket.io/redis-adapter`. No sticky
// sessions: with the WebSocket transport only, a Socket.IO session is one
// WebSocket connection, which stays on the worker that accepted it (sticky
// sessions are for HTTP long-polling, whose requests must reach one process).
// See bench/README.md.
//   REDIS_URL=redis://127.0.0.1:6390 PORT=9001 node bench/servers/socketio-cluster.mjs
import { runClusterPrimary } from './cluster-primary.mjs';

runClusterPrimary('socketio-cluster', new URL('./socketio.mjs', import.meta.url));
