// One Switchboard real-time node for the scale-out tests: a real process with
// a RedisBroker, so a test can run several and SIGKILL one. Prints
// `ready <port>` on stdout once it accepts connections.
// Env: REDIS_URL (required), PORT (default 0), PRESENCE_TTL (ms).
import { createRealtimeServer, RedisBroker } from '../../../src/realtime/server/index.js';

const redisUrl = process.env.REDIS_URL;
if (redisUrl === undefined) throw new Error('REDIS_URL is required');
const presenceTtl = Number(process.env.PRESENCE_TTL ?? 60_000);

const server = createRealtimeServer({
  port: Number(process.env.PORT ?? 0),
  host: '127.0.0.1',
  broker: new RedisBroker({ url: redisUrl, presenceSweepInterval: Math.max(50, presenceTtl / 5) }),
  presenceTtl,
  namespaces: {
    chat: { history: { size: 10_000, ttl: 300_000 }, presence: true, publish: 'clients' },
    feed: { history: { size: 10_000 }, publish: 'clients' },
    nohistory: { publish: 'clients' },
  },
  limits: { rate: false },
});
server.on('broker', (state, error) => process.stderr.write(`broker ${state}${error ? `: ${error.message}` : ''}\n`));
server.method('whereami', () => process.pid);
await server.ready();
process.stdout.write(`ready ${server.port}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
