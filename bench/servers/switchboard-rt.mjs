// Switchboard's real-time server for the real-time scenarios (see
// bench/README.md): createRealtimeServer from dist/ (npm run build first), or
// from the build in SB_DIST (`node bench/run.mjs --dist DIR`).
//   namespace `bench`   any client may publish (publish: 'clients'), no history,
//                       no presence, no publisher info in publications (Socket.IO
//                       sends only the data too)
//   method `echo`       returns its params
// Limits that would throttle a benchmark are off or raised: the per-connection
// rate limit (100 commands/s by default) and the outbound queue. Heartbeats stay
// on at their defaults; the load generator answers them.
//
// With HISTORY_ENTRIES set (the rt-history scenario), also a namespace `hist`
// keeping that many publications (clients may not publish), and the server
// fills `hist:bench` with them (data: bench/servers/history-payload.mjs, of
// HISTORY_SIZE characters) before it prints `ready`.
//
// With JWT_SECRET set (the rt-reconnect-storm scenario), clients authenticate
// with an HS256 JWT signed with it (`auth.jwt`, verified with jose on every
// connect), and a namespace `storm` keeps the last STORM_HISTORY (100)
// publications of each channel for recovery (any client may publish, no
// publisher info), in memory.
//
// With REDIS_URL set, the server joins others through Redis (RedisBroker);
// bench/servers/switchboard-rt-cluster.mjs runs it that way as a node:cluster
// worker, and the switchboard-rt-redis server as a single process. run.mjs
// removes REDIS_URL for the single-node server.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { historyPayload } from './history-payload.mjs';

const dist = process.env.SB_DIST ? pathToFileURL(path.resolve(process.env.SB_DIST)).href : new URL('../../dist', import.meta.url).href;
const { createRealtimeServer, RedisBroker } = await import(`${dist}/realtime/server/index.js`);

const port = Number(process.env.PORT ?? 9001);
const redisUrl = process.env.REDIS_URL;
const historyEntries = Number(process.env.HISTORY_ENTRIES ?? 0);
const historySize = Number(process.env.HISTORY_SIZE ?? 64);
const jwtSecret = process.env.JWT_SECRET;
const stormHistory = Number(process.env.STORM_HISTORY ?? 100);

const server = createRealtimeServer({
  port,
  host: '127.0.0.1',
  namespaces: {
    bench: { publish: 'clients', publisherInfo: false },
    ...(historyEntries > 0 ? { hist: { publish: false, history: { size: historyEntries } } } : {}),
    ...(jwtSecret ? { storm: { publish: 'clients', publisherInfo: false, history: { size: stormHistory } } } : {}),
  },
  ...(jwtSecret ? { auth: { jwt: { secret: jwtSecret } } } : {}),
  limits: {
    rate: false,
    maxQueuedBytes: 64 * 1024 * 1024,
  },
  ...(redisUrl ? { broker: new RedisBroker({ url: redisUrl }) } : {}),
});

server.method('echo', (params) => params);
server.on('error', (error) => console.error('switchboard-rt:', error));

await server.ready();
// in order, one at a time: each publication's offset is its place in the stream
for (let offset = 1; offset <= historyEntries; offset++) await server.publish('hist:bench', historyPayload(offset, historySize));
// as a cluster worker: listening, and the broker connected
if (process.send) process.send('ready');
else console.log('ready');
