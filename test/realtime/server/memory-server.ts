// A real-time server in a process of its own, for measuring what kept
// publications cost: it reports its memory after a full GC when asked (run it
// with --expose-gc) and its URL when it is ready. Messages over IPC:
// parent → { type: 'measure' } ; child → { type: 'ready', url } | { type: 'memory', rss, live }.
// `live` is what the process keeps: the V8 heap in use plus the memory
// outside it (Buffers); `rss` also holds what the allocator has not given back.
import { createRealtimeServer } from '../../../src/realtime/server/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const server = createRealtimeServer({
  port: 0,
  host: '127.0.0.1',
  maxMessageSize: 256 * 1024,
  namespaces: { kept: { history: { size: 100_000 }, publish: 'clients' }, warm: { history: { size: 10 }, publish: 'clients' } },
  limits: { rate: false, receiveBytes: false, maxPublishSize: 128 * 1024 },
});
await server.ready();

/** Memory after collecting everything collectable (three rounds, with a pause for the sweeper). */
async function settledMemory(): Promise<{ rss: number; live: number }> {
  for (let round = 0; round < 3; round++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const usage = process.memoryUsage();
  if (process.env.MEMORY_DETAIL === '1') console.error(JSON.stringify(usage));
  return { rss: usage.rss, live: usage.heapUsed + usage.external };
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'measure') void settledMemory().then((memory) => process.send!({ type: 'memory', ...memory }));
  if (message.type === 'stop') void server.close().then(() => process.exit(0));
});
process.send!({ type: 'ready', url: `ws://127.0.0.1:${server.port}/` });
