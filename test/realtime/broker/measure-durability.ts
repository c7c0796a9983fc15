// What `durability: 'replica'` costs: publishes per second through
// RedisBroker with and without it, on a master with one replica (spawned
// here, behind Sentinel), for one publisher awaiting each publish and for
// 64 in flight. Also what the epoch fencing adds to every publish (the
// publish script reads run_id and master_replid with INFO server and INFO
// replication): Redis's own time per call (INFO commandstats) of a script
// doing only that, against an empty script.
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

/** The identity reads of the publish script (INFO server and INFO replication), as in PUBLISH_SCRIPT. */
const IDENTITY = `
local function infoField(text, name, length)
  local at = string.find(text, name .. ':', 1, true)
  if not at then return '' end
  local from = at + #name + 1
  return string.sub(text, from, from + length - 1)
end
local replication = redis.call('INFO', 'replication')
return infoField(redis.call('INFO', 'server'), 'run_id', 40) .. '/' .. infoField(replication, 'master_replid', 40)`;

/** Redis time per call (INFO commandstats) of a script doing only the identity reads, and of an empty one. */
async function infoCost(port: number): Promise<{ info: number; empty: number }> {
  const client = new Redis({ host: '127.0.0.1', port });
  const time = async (script: string): Promise<number> => {
    const sha = (await client.script('LOAD', script)) as string;
    await client.config('RESETSTAT');
    const pending: Array<Promise<unknown>> = [];
    for (let index = 0; index < 20_000; index += 1) pending.push(client.evalsha(sha, 0));
    await Promise.all(pending);
    return Number(/cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(await client.info('commandstats'))![1]);
  };
  const info = await time(IDENTITY);
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
  console.log(`fencing reads (INFO server + INFO replication) in a script: ${(info - empty).toFixed(2)} µs of Redis time per publish (such a script: ${info.toFixed(2)} µs per call, an empty one: ${empty.toFixed(2)} µs)`);
} finally {
  await group.stop();
}
