// Switchboard's real-time server for the real-time scenarios (see
// bench/README.md): createRealtimeServer from dist/ (npm run build first).
//   namespace `bench`   any client may publish (publish: 'clients'), no history,
//                       no presence, no publisher info in publications (Socket.IO
//                       sends only the data too)
//   method `echo`       returns its params
// Limits that would throttle a benchmark are off or raised: the per-connection
// rate limit (100 commands/s by default) and the outbound queue. Heartbeats stay
// on at their defaults; the load generator answers them.
//
// With REDIS_URL set, the server is one node of several joined through Redis
// (RedisBroker); bench/servers/switchboard-rt-cluster.mjs runs it that way as a
// node:cluster worker. run.mjs removes REDIS_URL for the single-node server.
import { createRealtimeServer, RedisBroker } from '../../dist/realtime/server/index.js';

const port = Number(process.env.PORT ?? 9001);
const redisUrl = process.env.REDIS_URL;

const server = createRealtimeServer({
  port,
  host: '127.0.0.1',
  namespaces: {
    bench: { publish: 'clients', publisherInfo: false },
  },
  limits: {
    rate: false,
    maxQueuedBytes: 64 * 1024 * 1024,
  },
  ...(redisUrl ? { broker: new RedisBroker({ url: redisUrl }) } : {}),
});

server.method('echo', (params) => params);
server.on('error', (error) => console.error('switchboard-rt:', error));

await server.ready();
// as a cluster worker: listening, and the broker connected
process.send?.('ready');
