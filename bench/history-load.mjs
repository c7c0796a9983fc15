#!/usr/bin/env node
// The load generator of the history scenario (rt-history, bench/README.md):
// Node, npm `ws`, Switchboard's protocol in JSON (docs/protocol.md §4.8).
//
//   node bench/history-load.mjs -p PORT [-c 8] [-w 1] [-s 64] [--entries 10000]
//        [--page 1000] [-d 10] [--warmup 1] [--channel hist:bench]
//
// C connections each keep W `history` requests in flight, walking the
// channel's history of `entries` publications from the start to the end in
// pages of `page` (`since` the last offset received, `limit` page), then from
// the start again; a reply whose byte budget cut it short (`more`) is simply
// followed by the next request since its last publication. Publications
// served = publications in the replies received inside the measured window.
//
// The replies are not parsed in full (the generator would cost as much as the
// server): each is checked by bytes — its id, the number of entries, the
// offsets of its first and last publication (they must continue the walk with
// no gap), and `more`; every 25th reply of each connection is parsed in full
// and every publication's data compared with the payload the server published
// at that offset (the same function as bench/servers/switchboard-rt.mjs).
// `@window-start` / `@window-end` on stderr mark the window, one JSON line on
// stdout gives the counts, latency of a request, and this process's CPU.
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { historyPayload } from './servers/history-payload.mjs';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'history' },
    port: { type: 'string', short: 'p' },
    conns: { type: 'string', short: 'c', default: '8' },
    window: { type: 'string', short: 'w', default: '1' },
    size: { type: 'string', short: 's', default: '64' },
    entries: { type: 'string', default: '10000' },
    page: { type: 'string', default: '1000' },
    duration: { type: 'string', short: 'd', default: '10' },
    warmup: { type: 'string', default: '1' },
    channel: { type: 'string', default: 'hist:bench' },
  },
});
const port = Number(values.port);
const conns = Number(values.conns);
const windowSize = Number(values.window);
const size = Number(values.size);
const entries = Number(values.entries);
const page = Number(values.page);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const channel = values.channel;
const FULL_CHECK_EVERY = 25;

const errors = { connect: 0, handshake: 0, protocol: 0, mismatch: 0, order: 0, closed: 0, timeout: 0 };
const count = { publications: 0, replies: 0, bytes: 0 };
let measuring = false;
let stopping = false;
const latencies = [];

const DATA = Buffer.from('"data":');
const OFFSET = Buffer.from('{"offset":');
const MORE = Buffer.from('"more":true');

/** The number after `marker` at `at` (digits only). */
function numberAt(buf, at) {
  let n = 0;
  let i = at;
  while (i < buf.length && buf[i] >= 48 && buf[i] <= 57) n = n * 10 + (buf[i++] - 48);
  return i === at ? NaN : n;
}

/** Entries and the first and last offset of a history reply, from its bytes: each entry is `{"offset":N,"data":…`. */
function scan(buf) {
  let n = 0;
  let first = NaN;
  let last = NaN;
  let at = buf.indexOf(DATA);
  while (at >= 0) {
    // the entry's offset: the `{"offset":` just before its `"data":`
    if (n === 0) first = offsetBefore(buf, at);
    n++;
    const next = buf.indexOf(DATA, at + DATA.length + size);
    if (next < 0) last = offsetBefore(buf, at);
    at = next;
  }
  return { n, first, last, more: buf.includes(MORE) };
}

function offsetBefore(buf, dataAt) {
  const o = buf.lastIndexOf(OFFSET, dataAt);
  return o < 0 ? NaN : numberAt(buf, o + OFFSET.length);
}

function fullCheck(buf, since) {
  const message = JSON.parse(buf.toString());
  const pubs = message.result?.publications;
  if (!Array.isArray(pubs)) return false;
  for (const [i, p] of pubs.entries()) {
    if (p.offset !== since + i + 1 || p.data !== historyPayload(p.offset, size)) return false;
  }
  return true;
}

async function connection(index) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'switchboard.v1.json', { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  }).catch(() => {
    errors.connect++;
    throw new Error('connect');
  });
  let epoch = null;
  let nextId = 10;
  let cursor = (index * Math.floor(entries / conns / page) * page) % entries; // spread the connections over the history
  let replies = 0;
  const inFlight = new Map(); // id → {since, sent}
  let onReady;
  const ready = new Promise((resolve) => (onReady = resolve));
  const send = () => {
    if (stopping) return;
    const since = cursor;
    const limit = Math.min(page, entries - since);
    cursor = since + limit >= entries ? 0 : since + limit;
    const id = nextId++;
    inFlight.set(id, { since, limit, sent: process.hrtime.bigint() });
    ws.send(`{"type":"history","id":${id},"channel":"${channel}","since":{"offset":${since},"epoch":${JSON.stringify(epoch)}},"limit":${limit}}`);
  };
  ws.on('message', (data, isBinary) => {
    const buf = isBinary ? data : Buffer.from(data);
    if (buf.length < 64 && buf.toString().startsWith('{"type":"ping"')) {
      ws.send('{"type":"pong"}');
      return;
    }
    if (epoch === null) {
      const message = JSON.parse(buf.toString());
      if (message.id === 1 && message.result) ws.send(`{"type":"history","id":2,"channel":"${channel}","limit":1}`);
      else if (message.id === 2 && message.result?.epoch) {
        epoch = message.result.epoch;
        if (message.result.offset !== entries) errors.mismatch++;
        onReady();
      } else errors.handshake++;
      return;
    }
    // {"type":"reply","id":N,…
    const idAt = buf.indexOf('"id":');
    const id = idAt < 0 ? NaN : numberAt(buf, idAt + 5);
    const request = inFlight.get(id);
    if (!request) {
      errors.protocol++;
      return;
    }
    inFlight.delete(id);
    const { n, first, last, more } = scan(buf);
    if (n === 0 || first !== request.since + 1 || last !== request.since + n || n > request.limit || (!more && n !== request.limit)) errors.order++;
    if (++replies % FULL_CHECK_EVERY === 0 && !fullCheck(buf, request.since)) errors.mismatch++;
    if (more && n < request.limit) {
      // the budget cut the page: the rest of it next, since its last publication
      cursor = request.since + n;
      if (cursor >= entries) cursor = 0;
    }
    if (measuring) {
      count.publications += n;
      count.replies++;
      count.bytes += buf.length;
      latencies.push(Number(process.hrtime.bigint() - request.sent) / 1000);
    }
    send();
  });
  ws.on('close', () => {
    if (!stopping) errors.closed++;
  });
  ws.send('{"type":"connect","id":1}');
  await ready;
  return { ws, start: () => { for (let i = 0; i < windowSize; i++) send(); }, inFlight };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let clients;
try {
  clients = await Promise.all(Array.from({ length: conns }, (_, i) => connection(i)));
} catch {
  console.log(JSON.stringify({ mode: 'history', errors: { ...errors, total: Object.values(errors).reduce((a, b) => a + b, 0) } }));
  process.exit(1);
}
for (const c of clients) c.start();
await sleep(warmup * 1000);
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
measuring = true;
process.stderr.write('@window-start\n');
await sleep(duration * 1000);
measuring = false;
process.stderr.write('@window-end\n');
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
stopping = true;
// the replies still in flight, then close
const deadline = Date.now() + 10000;
while (clients.some((c) => c.inFlight.size > 0) && Date.now() < deadline) await sleep(20);
errors.timeout += clients.reduce((a, c) => a + c.inFlight.size, 0);
for (const c of clients) c.ws.close();
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] : NaN);
const clientCpuS = (cpu.user + cpu.system) / 1e6;
const total = Object.values(errors).reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    mode: 'history',
    conns,
    window: windowSize,
    size,
    entries,
    page,
    duration_s: secs,
    msgs: count.publications,
    msgs_per_s: count.publications / secs,
    publications_per_s: count.publications / secs,
    replies: count.replies,
    replies_per_s: count.replies / secs,
    mb_per_s: count.bytes / secs / 1e6,
    latency_us: { p50: pct(50), p99: pct(99), max: latencies.at(-1) ?? NaN },
    client_cpu_s: clientCpuS,
    client_cpu_pct: (100 * clientCpuS) / secs,
    errors: { ...errors, total },
  }),
);
process.exit(total > 0 ? 1 : 0);
