#!/usr/bin/env node
// Where an idle connection's bytes go: starts one server in this process, has
// the load generator (another process) open N idle connections, and compares
// two V8 heap snapshots (before and after the connections) by object type:
// bytes and objects per connection, largest first. Also prints the process's
// memory growth per connection, split by V8 heap space (new space is the young
// generation a burst of handshakes grows; old space is what the connections keep).
//
//   make -C bench/loadgen && npm run build
//   node --expose-gc bench/idle-heap.mjs [--server switchboard|ws] [--conns 2000] [--top 25] [--dist DIR] [--defaults] [--allocations]
//
// --allocations: also samples every allocation while the connections open
// (V8's sampling heap profiler, objects collected since included, one sample
// per KiB): bytes allocated per connection, garbage included, by the function
// that allocated them. That garbage is what grows the young generation.
// --defaults: Switchboard with its default options (heartbeat on), as
// memory-floor.mjs --defaults; without it the heartbeat is off. --heartbeat MS:
// the defaults with this heartbeat interval, and the connections held for five
// intervals before the second snapshot (the load generator answers each ping),
// to see what connections that have answered heartbeats keep. --dist: the
// build to load (another tree's dist/, for before/after).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';

const here = fileURLToPath(new URL('.', import.meta.url));
const LOADGEN = join(here, 'loadgen', 'loadgen');

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const kind = option('server', 'switchboard');
const conns = Number(option('conns', '2000'));
const top = Number(option('top', '25'));
const allocations = process.argv.includes('--allocations');
const heartbeat = Number(option('heartbeat', '0'));
const dist = resolve(option('dist', join(here, '..', 'dist')));
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
if (!existsSync(LOADGEN)) throw new Error('build the load generator first: make -C bench/loadgen');

async function startServer() {
  const echo = (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  };
  if (kind === 'switchboard') {
    const { WebSocketServer } = await import(pathToFileURL(join(dist, 'node', 'server-index.js')).href);
    const options = heartbeat > 0 ? { port: 0, host: '127.0.0.1', heartbeatInterval: heartbeat } : process.argv.includes('--defaults') ? { port: 0, host: '127.0.0.1' } : { port: 0, host: '127.0.0.1', heartbeatInterval: 0 };
    const wss = new WebSocketServer(options);
    await wss.ready();
    wss.on('connection', echo);
    return wss.port;
  }
  if (kind === 'ws') {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((done) => wss.on('listening', done));
    wss.on('connection', echo);
    return wss.address().port;
  }
  throw new Error(`unknown server ${kind}`);
}

async function settle() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Self size and count per "type name" of a heap snapshot file. */
function byType(path) {
  const snapshot = JSON.parse(readFileSync(path, 'utf8'));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const totals = new Map();
  const nodes = snapshot.nodes;
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + typeAt]];
    let name = snapshot.strings[nodes[i + nameAt]];
    if (type.includes('string')) name = '(strings)';
    else if (type === 'number') name = '(heap numbers)';
    else if (type === 'code') name = '(compiled code, feedback: fixed cost)';
    const key = `${type} ${name.slice(0, 50)}`;
    const entry = totals.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += nodes[i + sizeAt];
    totals.set(key, entry);
  }
  return totals;
}

const port = await startServer();
await settle();
const dir = mkdtempSync(join(tmpdir(), 'sb-idle-heap-'));
const beforeSnapshot = v8.writeHeapSnapshot(join(dir, 'before.heapsnapshot'));
await settle();
const spacesBefore = v8.getHeapSpaceStatistics();
const before = process.memoryUsage();
const ready = join(dir, 'ready');
const session = allocations ? new Session() : null;
if (session !== null) {
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
const loadgen = spawn(LOADGEN, ['--mode', 'idle', '-p', String(port), '-c', String(conns), '-H', '120', '--ready-file', ready], { stdio: 'ignore' });
while (!existsSync(ready)) await new Promise((done) => setTimeout(done, 50));
await new Promise((done) => setTimeout(done, Math.max(1000, 5 * heartbeat)));
const sampled = session === null ? null : (await session.post('HeapProfiler.stopSampling')).profile;
await settle();
const after = process.memoryUsage();
const spacesAfter = v8.getHeapSpaceStatistics();
const afterSnapshot = v8.writeHeapSnapshot(join(dir, 'after.heapsnapshot'));
loadgen.kill('SIGKILL');

const kib = (bytes) => (bytes / conns / 1024).toFixed(2);
console.log(`${kind}, ${conns} idle connections, ${dist}`);
console.log(`per connection: RSS ${kib(after.rss - before.rss)} KiB, heap used ${kib(after.heapUsed - before.heapUsed)} KiB`);
for (let i = 0; i < spacesAfter.length; i++) {
  const grown = spacesAfter[i].physical_space_size - spacesBefore[i].physical_space_size;
  const used = spacesAfter[i].space_used_size - spacesBefore[i].space_used_size;
  if (Math.abs(grown) >= conns * 10 || Math.abs(used) >= conns * 10) console.log(`  ${spacesAfter[i].space_name}: ${kib(grown)} KiB committed, ${kib(used)} KiB used`);
}
const was = byType(beforeSnapshot);
const rows = [];
let total = 0;
for (const [key, entry] of byType(afterSnapshot)) {
  const old = was.get(key) ?? { count: 0, size: 0 };
  const size = (entry.size - old.size) / conns;
  total += size;
  rows.push({ key, size, count: (entry.count - old.count) / conns });
}
rows.sort((a, b) => b.size - a.size);
console.log(`\nheap snapshot growth per connection: ${total.toFixed(0)} bytes (self sizes, native wrappers included)\n`);
console.log('| bytes/conn | objects/conn | type and constructor |\n|---:|---:|---|');
for (const row of rows.slice(0, top)) console.log(`| ${row.size.toFixed(0)} | ${row.count.toFixed(2)} | ${row.key} |`);
if (sampled !== null) printAllocations(sampled);
rmSync(dir, { recursive: true, force: true });
process.exit(0);

/** Sampled bytes allocated per connection while they opened, by allocating function. */
function printAllocations(profile) {
  const bySite = new Map();
  let sum = 0;
  const walk = (node) => {
    const frame = node.callFrame;
    const site = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
    sum += node.selfSize;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  console.log(`\nallocated while the connections opened (sampled, garbage included): ${(sum / conns).toFixed(0)} bytes per connection\n`);
  console.log('| bytes/conn | allocated in |\n|---:|---|');
  for (const [site, size] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| ${(size / conns).toFixed(0)} | ${site} |`);
}
