#!/usr/bin/env node
// What a kept publication costs the memory broker, in RSS, measured in a fresh
// server process per case (issue 13, item 2: ≤ its encoded size + 512 B).
//
//   node scripts/measure-publication-memory.mjs [--trees /tmp/old-full,/work/main]
//        [--cases hostile-msgpack,hostile-json,chat-msgpack,chat-json]
//        [--hostile-n 2000] [--chat-n 100000] [--repeat 1] [--json]
//
// For each tree × case: a server of that tree's dist/ (createRealtimeServer,
// memory broker, namespace `board` with history size 2000, publish: 'clients',
// rate limit off) in a child process run with --expose-gc
// (scripts/measure-server-child.mjs); one SDK client of the same tree, over a
// real WebSocket in the case's subprotocol, first publishes min(N/2, 5000)
// warm-up publications of the same kind to a namespace without history (so
// that the code paths are compiled and the heap's young generation has grown
// to its working size: none of them is kept), then the server reports
// RSS after global.gc() (RSS before), then the client publishes N publications
// (20 in flight) to channels of `board` — every one of them kept, since no
// channel gets more than 2000 — and the server reports RSS again at N/2 and
// at N. Per kept publication = (RSS at N − RSS before) ÷ N; the second half's
// slope = (RSS at N − RSS at N/2) ÷ (N/2) leaves out one-off growth.
//
// Cases (the data of each publication):
//   hostile-msgpack  an array of 32,000 empty maps, MessagePack (32,003 B)
//   hostile-json     an array of 10,667 empty maps, JSON `[{},{},…]` (32,001 B):
//                    the JSON form of 32,000 maps is 96,001 B, over the default
//                    32 KiB publish limit, so the JSON case uses as many maps as
//                    fit in 32 KB under the default limits
//   chat-msgpack     {text: <an 80-character sentence>, ts: Date.now()}, MessagePack
//   chat-json        the same in JSON
// hostile: N publications on one channel; chat: N over N/2000 channels.
// --repeat R: each case R times (a fresh process each time); the table gives
// the median per kept publication and the range.
import { encode as encodeMsgpack } from '@msgpack/msgpack';
import { parseArgs } from 'node:util';
import { checkTree, connectClient, machine, startServer, treeLabel } from './measure-common.mjs';

const { values } = parseArgs({
  options: {
    trees: { type: 'string', default: '/work/main' },
    cases: { type: 'string', default: 'hostile-msgpack,hostile-json,chat-msgpack,chat-json' },
    'hostile-n': { type: 'string', default: '2000' },
    'chat-n': { type: 'string', default: '100000' },
    repeat: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const repeat = Math.max(1, Number(values.repeat) || 1);
const trees = values.trees.split(',').filter(Boolean).map(checkTree);
const HISTORY = 2000;
const SENTENCE = 'The quick brown fox jumps over the lazy dog while the board keeps every stroke!!';
if (SENTENCE.length !== 80) throw new Error(`sentence is ${SENTENCE.length} characters`);

const CASES = {
  'hostile-msgpack': { protocol: 'msgpack', n: Number(values['hostile-n']), perChannel: HISTORY, data: () => Array.from({ length: 32000 }, () => ({})) },
  'hostile-json': { protocol: 'json', n: Number(values['hostile-n']), perChannel: HISTORY, data: () => Array.from({ length: 10667 }, () => ({})) },
  'chat-msgpack': { protocol: 'msgpack', n: Number(values['chat-n']), perChannel: HISTORY, data: () => ({ text: SENTENCE, ts: Date.now() }) },
  'chat-json': { protocol: 'json', n: Number(values['chat-n']), perChannel: HISTORY, data: () => ({ text: SENTENCE, ts: Date.now() }) },
};
const cases = values.cases.split(',').filter(Boolean);
for (const c of cases) if (!CASES[c]) throw new Error(`unknown case ${c}`);

const encodedSize = (protocol, data) => (protocol === 'msgpack' ? encodeMsgpack(data, { ignoreUndefined: true }).length : Buffer.byteLength(JSON.stringify(data)));

/** Publishes `count` publications from `make(i)` with `inFlight` outstanding. */
async function publishAll(client, count, channelOf, make, inFlight = 20) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await client.publish(channelOf(i), make(i));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

async function measure(tree, name) {
  const spec = CASES[name];
  const server = await startServer(
    {
      tree,
      namespaces: { board: { history: { size: HISTORY }, publish: 'clients' }, warm: { publish: 'clients' } },
      // receiveBytes: the per-connection byte budget of newer builds (1 MiB/s by default) would stop the publisher; older builds ignore the key
      limits: { rate: false, receiveBytes: false },
    },
    { execArgv: ['--max-old-space-size=12288'] },
  );
  const client = await connectClient(tree, server.url, spec.protocol);
  try {
    const sample = spec.data();
    const size = encodedSize(spec.protocol, sample);
    // warm-up: the same publications to a channel without history, as many as half the measured ones (at most 5000),
    // so that the heap's young generation and the code paths have grown to their working size before the first figure
    await publishAll(client, Math.min(5000, Math.ceil(spec.n / 2)), () => 'warm:up', () => spec.data());
    const before = await server.request('memory');
    const half = Math.floor(spec.n / 2);
    const channelOf = (i) => `board:${name}-${Math.floor(i / spec.perChannel)}`;
    const t0 = Date.now();
    await publishAll(client, half, channelOf, () => spec.data());
    const middle = await server.request('memory');
    await publishAll(client, spec.n - half, (i) => channelOf(i + half), () => spec.data());
    const seconds = (Date.now() - t0) / 1000;
    const after = await server.request('memory');
    // every publication is still kept: the history of each channel holds them all
    const { publications } = await client.history(`board:${name}-0`, { limit: 1 });
    if (publications.length !== 1) throw new Error('history lost the publications');
    const perPub = (after.rss - before.rss) / spec.n;
    const slope = (after.rss - middle.rss) / (spec.n - half);
    return {
      tree: treeLabel(tree),
      case: name,
      protocol: spec.protocol,
      n: spec.n,
      channels: Math.ceil(spec.n / spec.perChannel),
      encoded_bytes: size,
      bound_bytes: size + 512,
      rss_before_mib: before.rss / 2 ** 20,
      rss_half_mib: middle.rss / 2 ** 20,
      rss_after_mib: after.rss / 2 ** 20,
      rss_per_pub_bytes: perPub,
      rss_slope_second_half_bytes: slope,
      heap_used_per_pub_bytes: (after.heapUsed - before.heapUsed) / spec.n,
      heap_total_per_pub_bytes: (after.heapTotal - before.heapTotal) / spec.n,
      external_per_pub_bytes: (after.external - before.external) / spec.n,
      per_pub_over_encoded: perPub / size,
      within_bound: perPub <= size + 512,
      publish_seconds: seconds,
    };
  } finally {
    client.close();
    await server.stop();
  }
}

const results = [];
const started = machine();
for (let round = 1; round <= repeat; round++) for (const tree of trees) {
  for (const name of cases) {
    const r = { ...(await measure(tree, name)), round };
    results.push(r);
    console.error(
      `${r.tree} ${r.case}: N ${r.n}, encoded ${r.encoded_bytes} B, RSS ${r.rss_before_mib.toFixed(1)} → ${r.rss_after_mib.toFixed(1)} MiB, ` +
        `${Math.round(r.rss_per_pub_bytes)} B per kept publication (${r.per_pub_over_encoded.toFixed(2)}× encoded; second half ${Math.round(r.rss_slope_second_half_bytes)} B), ` +
        `bound ${r.bound_bytes} B: ${r.within_bound ? 'within' : 'OVER'} (publish ${r.publish_seconds.toFixed(1)} s)`,
    );
  }
}
if (values.json) console.log(JSON.stringify({ machine: { before: started, after: machine() }, results }, null, 1));
else if (repeat > 1) {
  console.log(`load average before ${started.loadavg.join(' ')}, after ${machine().loadavg.join(' ')}; ${repeat} fresh processes per case`);
  console.log('| tree | case | N | encoded B | RSS per kept pub B (median) | range B | × encoded | 2nd-half slope B (median) | heapUsed per pub B (median) | bound B | median within |');
  console.log('|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|');
  const median = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  for (const tree of trees.map(treeLabel)) {
    for (const name of cases) {
      const rs = results.filter((r) => r.tree === tree && r.case === name);
      const per = rs.map((r) => r.rss_per_pub_bytes);
      const m = median(per);
      const r0 = rs[0];
      console.log(
        `| ${tree} | ${name} | ${r0.n} | ${r0.encoded_bytes} | ${Math.round(m)} | ${Math.round(Math.min(...per))}–${Math.round(Math.max(...per))} | ${(m / r0.encoded_bytes).toFixed(2)} | ` +
          `${Math.round(median(rs.map((r) => r.rss_slope_second_half_bytes)))} | ${Math.round(median(rs.map((r) => r.heap_used_per_pub_bytes)))} | ${r0.bound_bytes} | ${m <= r0.bound_bytes ? 'yes' : 'no'} |`,
      );
    }
  }
} else {
  console.log(`load average before ${started.loadavg.join(' ')}, after ${machine().loadavg.join(' ')}`);
  console.log('| tree | case | N | encoded B | RSS before MiB | RSS after MiB | RSS per kept pub B | × encoded | 2nd-half slope B | heapUsed per pub B | heapTotal per pub B | external per pub B | bound B | within |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results) {
    console.log(
      `| ${r.tree} | ${r.case} | ${r.n} | ${r.encoded_bytes} | ${r.rss_before_mib.toFixed(1)} | ${r.rss_after_mib.toFixed(1)} | ${Math.round(r.rss_per_pub_bytes)} | ` +
        `${r.per_pub_over_encoded.toFixed(2)} | ${Math.round(r.rss_slope_second_half_bytes)} | ${Math.round(r.heap_used_per_pub_bytes)} | ${Math.round(r.heap_total_per_pub_bytes)} | ${Math.round(r.external_per_pub_bytes)} | ${r.bound_bytes} | ${r.within_bound ? 'yes' : 'no'} |`,
    );
  }
}
