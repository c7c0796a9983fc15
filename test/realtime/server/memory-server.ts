// A real-time server in a process of its own, for measuring what kept
// publications cost: it reports its RSS after a full GC when asked (run it
// with --expose-gc) and its URL when it is ready. Messages over IPC:
// parent → { type: 'measure' } ; child → { type: 'ready', url } | { type: 'rss', rss }.
import { createRealtimeServer } from '../../../src/realtime/server/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const server = createRealtimeServer({
  port: 0,
  host: '127.0.0.1',
  maxMessageSize: 256 * 1024,
  namespaces: { kept: { history: { size: 100_000 }, publish: 'clients' }, warm: { publish: 'clients' } },
  limits: { rate: false, receiveBytes: false, maxPublishSize: 128 * 1024 },
});
await server.ready();

/** RSS after collecting everything collectable (twice, with a pause for the sweeper). */
async function settledRss(): Promise<number> {
  for (let round = 0; round < 3; round++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const usage = process.memoryUsage();
  if (process.env.MEMORY_DETAIL === '1') console.error(JSON.stringify(usage));
  return usage.rss;
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'measure') void settledRss().then((rss) => process.send!({ type: 'rss', rss }));
  if (message.type === 'stop') void server.close().then(() => process.exit(0));
});
process.send!({ type: 'ready', url: `ws://127.0.0.1:${server.port}/` });
