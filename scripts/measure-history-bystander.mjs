#!/usr/bin/env node
// Does serving a large history stall everyone else? (issue 13, item 4)
//
//   node scripts/measure-history-bystander.mjs [--trees /tmp/old,/work/main]
//        [--brokers memory,redis] [--payloads hostile-msgpack,hostile-json,string-json]
//        [--count 1000] [--readers 2] [--json]
//
// For each tree × broker × payload: a server of that tree's dist/ in a fresh
// child process (scripts/measure-server-child.mjs): namespace `board` with
// history size `count`, publish: 'clients', rate limit off, outbound queue
// (limits.maxQueuedBytes) 64 MiB so that the old code, which answers a history
// in one reply, can send 1,000 × 32 KB at all (the new code's reply budget is
// its default, 256 KiB); RedisBroker on a private redis-server on a free port
// (flushed before each case) or the memory broker. An SDK client of the same
// tree publishes `count` publications of the payload to `board:big`, in the
// payload's codec. Then:
//   - a bystander (in this process, JSON) calls the server method `ping` in a
//     loop, one call at a time, a new one at most every 5 ms (so ≤ 200 calls/s),
//     for 2 s (baseline) and on during the reads;
//   - `readers` reader processes (SDK clients of the same tree, the payload's
//     codec, each in a process of its own at nice 10 so that their decoding
//     takes CPU from neither the server nor the bystander) each read the whole
//     history at the same moment: `client.history('board:big', {limit: count})`
//     — one request with the old SDK, pages that the SDK follows with the new;
//     each checks that it got `count` publications of the right size.
// Reported: the bystander's round trips during the reads (from the first
// reader's start to the last one's end): worst, p99, median, count; the
// server's own event-loop delay (max, p99) over the same span; each reader's
// time and the total time of the reads.
//
// Payloads (data of each publication):
//   hostile-msgpack  an array of 32,000 empty maps, MessagePack (32,003 B)
//   hostile-json     an array of 10,667 empty maps, JSON (32,002 B)
//   string-json      a 32,000-character string of text, JSON (32,002 B)
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkTree, connectClient, machine, percentile, sleep, startRedis, startServer, treeLabel } from './measure-common.mjs';

const PAYLOADS = {
  'hostile-msgpack': { protocol: 'msgpack', data: () => Array.from({ length: 32000 }, () => ({})), check: (d) => Array.isArray(d) && d.length === 32000 },
  'hostile-json': { protocol: 'json', data: () => Array.from({ length: 10667 }, () => ({})), check: (d) => Array.isArray(d) && d.length === 10667 },
  'string-json': {
    protocol: 'json',
    data: (i) => `${String(i).padStart(8, '0')} `.concat('Large strokes of ordinary text, kept and replayed as they were. '.repeat(500)).slice(0, 32000),
    check: (d) => typeof d === 'string' && d.length === 32000,
  },
};

/** The bystander calls `ping` one at a time, starting a call at most every PERIOD ms. */
const PERIOD = 5;

// ------------------------------------------------------------------ reader role
if (process.argv[2] === '--reader') {
  const [tree, url, protocol, channel, count, payload] = process.argv.slice(3);
  const client = await connectClient(tree, url, protocol);
  process.send({ type: 'ready' });
  const [message] = await once(process, 'message');
  if (message.type !== 'go') process.exit(1);
  const t0 = performance.now();
  let result;
  try {
    const history = await client.history(channel, { limit: Number(count) });
    const ms = performance.now() - t0;
    const offsets = history.publications.map((p) => p.offset);
    const contiguous = offsets.every((o, i) => i === 0 || o === offsets[i - 1] + 1);
    const sizesOk = history.publications.every((p) => PAYLOADS[payload].check(p.data));
    result = { ms, publications: history.publications.length, contiguous, sizesOk };
  } catch (error) {
    result = { ms: performance.now() - t0, error: String(error?.message ?? error) };
  }
  client.close();
  process.send({ type: 'done', result }, () => process.exit(0));
} else {
  await main();
}

async function main() {
  const { values } = parseArgs({
    options: {
      trees: { type: 'string', default: '/work/main' },
      brokers: { type: 'string', default: 'memory,redis' },
      payloads: { type: 'string', default: 'hostile-msgpack,hostile-json,string-json' },
      count: { type: 'string', default: '1000' },
      readers: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
    },
  });
  const trees = values.trees.split(',').filter(Boolean).map(checkTree);
  const brokers = values.brokers.split(',').filter(Boolean);
  const payloads = values.payloads.split(',').filter(Boolean);
  for (const p of payloads) if (!PAYLOADS[p]) throw new Error(`unknown payload ${p}`);
  const count = Number(values.count);
  const readers = Number(values.readers);
  const redis = brokers.includes('redis') ? await startRedis() : null;
  const results = [];
  const started = machine();
  try {
    for (const tree of trees) {
      for (const broker of brokers) {
        for (const payload of payloads) {
          if (redis) await redis.command('FLUSHALL');
          const r = await runCase({ tree, broker, payload, count, readers, redis });
          results.push(r);
          console.error(
            `${r.tree} ${broker} ${payload}: bystander worst ${r.bystander.max_ms.toFixed(1)} ms, p99 ${r.bystander.p99_ms.toFixed(1)} ms ` +
              `(${r.bystander.calls} calls; baseline worst ${r.baseline.max_ms.toFixed(1)} ms); server loop delay max ${r.server_loop.max_ms.toFixed(0)} ms; ` +
              `reads ${r.reads_ms.toFixed(0)} ms total [${r.readers.map((x) => (x.error ? `error ${x.error}` : `${x.ms.toFixed(0)} ms ${x.publications} pubs${x.contiguous && x.sizesOk ? '' : ' BAD'}`)).join(', ')}]`,
          );
        }
      }
    }
  } finally {
    await redis?.stop();
  }
  if (values.json) {
    console.log(JSON.stringify({ machine: { before: started, after: machine() }, results }, null, 1));
    return;
  }
  console.log(`load average before ${started.loadavg.join(' ')}, after ${machine().loadavg.join(' ')}; ${readers} readers, ${count} publications`);
  console.log('| tree | broker | payload | bystander worst ms | p99 ms | median ms | calls | baseline worst ms | server loop delay max ms | reads total ms | each reader ms | publications read |');
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
  const n1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
  for (const r of results) {
    console.log(
      `| ${r.tree} | ${r.broker} | ${r.payload} | ${n1(r.bystander.max_ms)} | ${n1(r.bystander.p99_ms)} | ${n1(r.bystander.p50_ms)} | ${r.bystander.calls} | ${n1(r.baseline.max_ms)} | ` +
        `${n1(r.server_loop.max_ms)} | ${r.reads_ms.toFixed(0)} | ${r.readers.map((x) => (x.error ? 'error' : x.ms.toFixed(0))).join(' / ')} | ` +
        `${r.readers.map((x) => (x.error ? x.error : `${x.publications}${x.contiguous && x.sizesOk ? '' : ' (bad)'}`)).join(' / ')} |`,
    );
  }
}

function stats(samples) {
  return { calls: samples.length, max_ms: samples.reduce((a, b) => Math.max(a, b), -Infinity), p99_ms: percentile(samples, 99), p50_ms: percentile(samples, 50) };
}

async function runCase({ tree, broker, payload, count, readers, redis }) {
  const spec = PAYLOADS[payload];
  const server = await startServer(
    {
      tree,
      namespaces: { board: { history: { size: count }, publish: 'clients' } },
      // receiveBytes: the per-connection byte budget of newer builds (1 MiB/s by default) would stop the publisher; older builds ignore the key
      limits: { rate: false, receiveBytes: false, maxQueuedBytes: 64 * 1024 * 1024 },
      ...(broker === 'redis' ? { redisUrl: redis.url } : {}),
    },
    { execArgv: ['--max-old-space-size=12288'] },
  );
  const publisher = await connectClient(tree, server.url, spec.protocol);
  const bystander = await connectClient(tree, server.url, 'json');
  const children = [];
  try {
    // fill the history
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < count) {
          const i = next++;
          await publisher.publish('board:big', spec.data(i));
        }
      }),
    );
    // the readers, connected, waiting for the word
    for (let i = 0; i < readers; i++) {
      const child = fork(fileURLToPath(import.meta.url), ['--reader', tree, server.url, spec.protocol, 'board:big', String(count), payload], {
        execArgv: ['--max-old-space-size=12288'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      spawnSync('renice', ['-n', '10', '-p', String(child.pid)]);
      children.push(child);
    }
    await Promise.all(children.map((c) => once(c, 'message')));
    // the bystander: one call at a time, all along
    const samples = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const t0 = performance.now();
        await bystander.call('ping');
        const ms = performance.now() - t0;
        samples.push({ at: t0, ms });
        // at most one call every PERIOD ms: a client going about its business, not a load of its own
        if (ms < PERIOD) await sleep(PERIOD - ms);
      }
    })();
    await sleep(2000);
    const baseline = samples.map((s) => s.ms);
    await server.request('loop-start');
    const readsStart = performance.now();
    const done = children.map((c) => once(c, 'message').then(([m]) => m.result));
    for (const c of children) c.send({ type: 'go' });
    const results = await Promise.all(done);
    const readsEnd = performance.now();
    const serverLoop = await server.request('loop-stop');
    running = false;
    await loop;
    // calls that started during the reads, or were in flight when they began
    const during = samples.filter((s) => s.at + s.ms >= readsStart && s.at <= readsEnd).map((s) => s.ms);
    return {
      tree: treeLabel(tree),
      broker,
      payload,
      count,
      readers: results,
      reads_ms: readsEnd - readsStart,
      bystander: stats(during),
      baseline: stats(baseline),
      server_loop: serverLoop,
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    publisher.close();
    bystander.close();
    await server.stop();
  }
}
