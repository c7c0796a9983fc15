// What `durability: 'replica'` costs: publishes per second through
// RedisBroker with and without it, on a master with one replica (spawned
// here, behind Sentinel), for one publisher awaiting each publish and for
// 64 in flight. Also what the epoch fencing adds to every publish (the
// publish script reads the Redis process's run_id with INFO server): the
// time of that INFO call alone inside a script.
//
//   node --import tsx test/realtime/broker/measure-durability.ts [seconds per cell, default 3]
import { Redis } from 'ioredis';
import { RedisBroker, type RedisDurability } from '../../../src/realtime/broker/redis-broker.js';
import { encodeValue } from '../../../src/realtime/wire/encoded.js';
import { RedisSentinelGroup } from './redis-cluster.js';

const seconds = Number(process.argv[2] ?? 3);
const body = { data: encodeValue({ text: 'a publication of some sixty bytes, as chat messages are' }, { binary: false }) };

async function rate(broker: RedisBroker, inFlight: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, lane) => {
      while (Date.now() < deadline) {
        await broker.publish(`bench-${lane % 16}`, body, { history: { size: 100 } });
        done += 1;
      }
    }),
  );
  return done / seconds;
}

async function infoCost(port: number): Promise<{ info: number; empty: number }> {
  const client = new Redis({ host: '127.0.0.1', port });
  const time = async (script: string): Promise<number> => {
    const rounds = 20_000;
    const started = process.hrtime.bigint();
    const pending: Array<Promise<unknown>> = [];
    for (let index = 0; index < rounds; index += 1) pending.push(client.eval(script, 0));
    await Promise.all(pending);
    return Number(process.hrtime.bigint() - started) / rounds / 1000;
  };
  const info = await time("local s = redis.call('INFO', 'server'); local at = string.find(s, 'run_id:', 1, true); return string.sub(s, at + 7, at + 46)");
  const empty = await time('return 1');
  client.disconnect();
  return { info, empty };
}

const group = await RedisSentinelGroup.start();
try {
  const results: string[] = [];
  for (const inFlight of [1, 64]) {
    for (const durability of ['primary', 'replica'] as RedisDurability[]) {
      const broker = new RedisBroker({ url: group.url, prefix: `measure-${durability}-${inFlight}`, durability });
      await broker.start({ publication() {}, join() {}, leave() {} });
      await rate(broker, inFlight); // warm-up… and the cell:
      const measured = await rate(broker, inFlight);
      await broker.close();
      results.push(`durability ${durability.padEnd(7)} ${String(inFlight).padStart(2)} in flight: ${Math.round(measured).toLocaleString('en')} publishes/s`);
    }
  }
  const { info, empty } = await infoCost(group.master.port);
  for (const line of results) console.log(line);
  console.log(`INFO server inside a script: ${(info - empty).toFixed(1)} µs per publish (a script doing only that: ${info.toFixed(1)} µs per call, an empty one: ${empty.toFixed(1)} µs, pipelined)`);
} finally {
  await group.stop();
}
