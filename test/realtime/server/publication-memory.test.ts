// A kept publication costs about its size: in a fresh server process with
// the memory broker, the memory that N kept publications add, per
// publication, is at most their encoded size + 512 bytes — for the hostile
// payload (an array of empty maps: ~64x its size as JavaScript objects) and
// for ordinary chat messages, published through real sockets in JSON and in
// MessagePack. "Memory" is what the process keeps after a full GC (the V8
// heap in use and the Buffers outside it), which repeats to the byte. RSS
// also moves with what the allocator keeps from the warm-up (11 to 33 KB per
// hostile MessagePack publication in runs of the same build), so it gets a
// coarser bound: twice that, which the ~2 MB each before still fails.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { JSON_PROTOCOL, MSGPACK_PROTOCOL, WireClient } from './wire-client.js';

const SERVER = fileURLToPath(new URL('./memory-server.ts', import.meta.url));
const BOUND = 512;

class ServerProcess {
  private constructor(private readonly child: ChildProcess, readonly url: string) {}

  static async start(): Promise<ServerProcess> {
    const child = fork(SERVER, [], { execArgv: ['--import', 'tsx', '--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [message] = (await once(child, 'message')) as [{ type: string; url: string }];
    return new ServerProcess(child, message.url);
  }

  async memory(): Promise<{ rss: number; live: number }> {
    this.child.send({ type: 'measure' });
    const [message] = (await once(this.child, 'message')) as [{ rss: number; live: number }];
    return message;
  }

  async stop(): Promise<void> {
    this.child.send({ type: 'stop' });
    await once(this.child, 'exit');
  }
}

/** Publishes `count` times and resolves the memory and RSS each kept publication added, with its encoded size. */
async function costPerPublication(protocol: string, data: unknown, count: number): Promise<{ live: number; rss: number; size: number }> {
  const server = await ServerProcess.start();
  try {
    const { client } = await WireClient.connect(server.url, {}, { protocols: [protocol] });
    // The same traffic first, keeping almost nothing (a history of 10): the heap, the compiled
    // code of the history path and the allocator grow to what this traffic needs, so that what
    // is measured next is what keeping the publications adds.
    for (let i = 0; i < count; i++) await client.request('publish', { channel: 'warm:x', data });
    const before = await server.memory();
    for (let i = 0; i < count; i++) await client.request('publish', { channel: `kept:${i % 10}`, data });
    const after = await server.memory();
    await client.close();
    const encoded = protocol === MSGPACK_PROTOCOL ? encode(data).length : Buffer.byteLength(JSON.stringify(data));
    return { live: (after.live - before.live) / count, rss: (after.rss - before.rss) / count, size: encoded };
  } finally {
    await server.stop();
  }
}

const hostile = (maps: number): unknown => Array.from({ length: maps }, () => ({}));
const chat = { text: 'Are we still on for the design review at three? I have the mockups ready.', ts: 1_764_892_800_000 };

describe('memory per kept publication (fresh process, memory broker)', () => {
  const cases: Array<[string, string, unknown, number]> = [
    ['hostile MessagePack: 32,000 empty maps (32 KB)', MSGPACK_PROTOCOL, hostile(32_000), 3_000],
    ['hostile JSON: 32,000 empty maps (96 KB)', JSON_PROTOCOL, hostile(32_000), 1_500],
    ['chat message, JSON', JSON_PROTOCOL, chat, 20_000],
    ['chat message, MessagePack', MSGPACK_PROTOCOL, chat, 20_000],
  ];
  for (const [name, protocol, data, count] of cases) {
    it(`${name}: at most its encoded size + ${BOUND} B`, async () => {
      const { live, rss, size } = await costPerPublication(protocol, data, count);
      console.log(`# ${name}: ${Math.round(live)} B kept (${Math.round(rss)} B of RSS) per publication, encoded size ${size} B`);
      assert.ok(live <= size + BOUND, `${Math.round(live)} B kept per publication > ${size} + ${BOUND}`);
      assert.ok(rss <= 2 * (size + BOUND), `${Math.round(rss)} B of RSS per publication > 2 × (${size} + ${BOUND})`);
    });
  }
});
