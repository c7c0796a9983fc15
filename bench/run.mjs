#!/usr/bin/env node
// Switchboard benchmark driver: servers × scenarios × runs, each cell a fresh
// server pinned to CPU 0 and the load generator (bench/loadgen) pinned to CPU 1.
// The scale-out cells (rt-cluster-fanout) also get a redis-server of the driver's
// own, on a free port and CPU 0, flushed before each of them.
// Writes bench/results/<time>/{results.json,report.md,ratios.svg}; see bench/README.md.
//
//   npm run bench                                   # everything, 1 run each
//   npm run bench -- --quick                        # ~2-minute smoke run
//   npm run bench -- --runs 3 --servers switchboard,ws,uws --scenarios echo-pipelined,broadcast
//   npm run bench -- --write-docs                   # also copy the report into docs/benchmarks*
//   node bench/run.mjs --report bench/results/<time> [--write-docs]   # rebuild a report
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOADGEN = path.join(ROOT, 'bench', 'loadgen', 'loadgen');
const require = createRequire(path.join(ROOT, 'package.json'));

// ------------------------------------------------------------------ servers

const SERVERS = {
  switchboard: {
    argv: ['node', 'bench/servers/switchboard.mjs'],
    note: 'this project: `WebSocketServer` from dist/, broadcast with `wss.broadcast()` (framed once)',
  },
  ws: {
    argv: ['node', 'bench/servers/ws.mjs'],
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    note: 'npm `ws`, pure JavaScript; broadcast = loop over clients',
  },
  'ws+native': {
    argv: ['node', 'bench/servers/ws.mjs'],
    unset: ['WS_NO_BUFFER_UTIL', 'WS_NO_UTF_8_VALIDATE'],
    note: 'npm `ws` with `bufferutil` and `utf-8-validate` installed',
  },
  uws: {
    argv: ['node', 'bench/servers/uws.mjs'],
    note: 'uWebSockets.js (npm `@trufflesuite/uws-js-unofficial`), C++; broadcast = pub/sub `app.publish`',
  },
  'raw-tcp': {
    argv: [LOADGEN, '--mode', 'serve-raw', '-p', '$PORT'],
    raw: true,
    note: 'not WebSocket: a C epoll TCP echo (`loadgen --mode serve-raw`), run with `loadgen --raw`: the ceiling of the load generator',
  },
  'node-tcp': {
    argv: ['node', 'bench/servers/node-tcp.mjs'],
    raw: true,
    note: 'not WebSocket: a plain TCP echo in Node (`net`, each chunk written back; `servers/node-tcp.mjs`), run with `loadgen --raw`: the floor of a Node server in the echo cells',
  },
  'node-floor': {
    argv: ['node', 'bench/servers/node-floor.mjs'],
    modes: ['connect'],
    note: 'not a WebSocket server: a `net.Server` that answers the 101 (SHA-1 of the key) and the close frame, nothing else checked or kept (`servers/node-floor.mjs`); connect only: the floor of a Node server\'s handshake',
  },
  // real-time servers: the rt-* scenarios only, spoken through a loadgen profile
  'switchboard-rt': {
    argv: ['node', 'bench/servers/switchboard-rt.mjs'],
    profile: 'bench/loadgen/profiles/switchboard-rt.profile',
    stormProfile: 'bench/loadgen/profiles/switchboard-rt.storm.profile',
    needs: 'dist/realtime/server/index.js',
    history: true,
    note: 'this project: `createRealtimeServer` from dist/ (JSON subprotocol), a namespace any client may publish to, method `echo`; rate limit off',
  },
  // the history scenario only: the same server, one process, RedisBroker on the driver's redis-server
  'switchboard-rt-redis': {
    argv: ['node', 'bench/servers/switchboard-rt.mjs'],
    profile: 'bench/loadgen/profiles/switchboard-rt.profile',
    needs: 'dist/realtime/server/index.js',
    redis: true,
    history: true,
    note: 'the switchboard-rt server as one process with `broker: new RedisBroker({ url })` on the driver\'s redis-server; rt-history only',
  },
  socketio: {
    argv: ['node', 'bench/servers/socketio.mjs'],
    profile: 'bench/loadgen/profiles/socketio.profile',
    stormProfile: 'bench/loadgen/profiles/socketio.storm.profile',
    note: 'npm `socket.io` v4, default `ws` engine (with `bufferutil` installed), WebSocket transport only; `io.to(room).emit`, ack callbacks',
  },
  // scale-out: a node:cluster primary + NODES workers behind one port, joined through
  // the driver's redis-server; the scale-out scenario (rt-cluster-fanout) only
  'switchboard-rt-cluster': {
    argv: ['node', 'bench/servers/switchboard-rt-cluster.mjs'],
    profile: 'bench/loadgen/profiles/switchboard-rt.profile',
    needs: 'dist/realtime/server/index.js',
    cluster: true,
    note: 'node:cluster primary + workers (round-robin) behind one port, each worker the switchboard-rt server with `broker: new RedisBroker({ url })`',
  },
  'socketio-cluster': {
    argv: ['node', 'bench/servers/socketio-cluster.mjs'],
    profile: 'bench/loadgen/profiles/socketio.profile',
    cluster: true,
    note: 'node:cluster primary + workers (round-robin) behind one port, each worker the socketio server with `@socket.io/redis-adapter` (ioredis); no sticky sessions (WebSocket transport only)',
  },
  // the same two cluster servers on a Redis Cluster of the driver's own (3 masters) instead of one redis-server
  'switchboard-rt-cluster-rc': {
    argv: ['node', 'bench/servers/switchboard-rt-cluster.mjs'],
    profile: 'bench/loadgen/profiles/switchboard-rt.profile',
    needs: 'dist/realtime/server/index.js',
    cluster: true,
    redisCluster: true,
    note: 'the switchboard-rt-cluster server on the driver\'s Redis Cluster (3 masters): each worker\'s `RedisBroker` is given one node\'s URL and detects the cluster',
  },
  'socketio-cluster-rc': {
    argv: ['node', 'bench/servers/socketio-cluster.mjs'],
    profile: 'bench/loadgen/profiles/socketio.profile',
    cluster: true,
    redisCluster: true,
    note: 'the socketio-cluster server on the driver\'s Redis Cluster (3 masters): `@socket.io/redis-adapter` over an ioredis `Cluster` (PUBLISH; its sharded adapter does not run on ioredis clusters)',
  },
};
const DEFAULT_SERVERS = [
  'switchboard', 'ws', 'ws+native', 'uws', 'raw-tcp', 'node-tcp', 'node-floor', 'switchboard-rt', 'switchboard-rt-redis', 'socketio', 'switchboard-rt-cluster', 'socketio-cluster',
  'switchboard-rt-cluster-rc', 'socketio-cluster-rc',
];
/** the base of the ratios: ws for the WebSocket scenarios, Socket.IO for the real-time ones */
const RT_BASE = 'socketio';
const isRealtimeServer = (name) => Boolean(SERVERS[name]?.profile);
/** several processes joined through Redis: runs the scale-out scenario only */
const isClusterServer = (name) => Boolean(SERVERS[name]?.cluster);
/** a cluster server on the driver's Redis Cluster instead of its one redis-server */
const isRedisClusterServer = (name) => Boolean(SERVERS[name]?.redisCluster);
/** one process with RedisBroker on the driver's redis-server (its CPU counted with the server's) */
const isRedisServer = (name) => Boolean(SERVERS[name]?.redis);
/** servers that run the history scenario */
const hasHistory = (name) => Boolean(SERVERS[name]?.history);
/** servers that run the reconnect storm (a storm profile: JWT, recovery) */
const hasStorm = (name) => Boolean(SERVERS[name]?.stormProfile);
const REDIS_BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
const REDIS_CLI = process.env.REDIS_CLI ?? '/usr/bin/redis-cli';
/** masters of the driver's Redis Cluster (no replicas: one redis-server has none either) */
const REDIS_CLUSTER_MASTERS = 3;

// ---------------------------------------------------------------- scenarios

const SCENARIOS = {
  'echo-rr-small': { mode: 'echo', conns: 100, window: 1, size: 32, type: 'text', payload: 'random', deflate: false },
  'echo-pipelined': { mode: 'echo', conns: 100, window: 16, size: 1024, type: 'binary', payload: 'random', deflate: false },
  'echo-large': { mode: 'echo', conns: 4, window: 1, size: 1048576, type: 'binary', payload: 'random', deflate: false },
  'echo-deflate': { mode: 'echo', conns: 100, window: 16, size: 1024, type: 'text', payload: 'json', deflate: true },
  broadcast: { mode: 'broadcast', conns: 5000, window: 8, size: 64, deflate: false },
  idle: { mode: 'idle', conns: 20000, deflate: false },
  connect: { mode: 'connect', conns: 50, deflate: false },
  // the real-time layer against Socket.IO (servers with a profile)
  'rt-fanout': { mode: 'fanout', conns: 5000, window: 8, size: 64, deflate: false },
  'rt-rpc': { mode: 'rpc', conns: 100, window: 1, size: 32, deflate: false },
  'rt-rpc-pipelined': { mode: 'rpc', conns: 100, window: 16, size: 32, deflate: false },
  // scale-out: the cluster servers with `nodes` workers through Redis, the single-node
  // real-time servers alone on the same load (the baseline)
  'rt-cluster-fanout': { mode: 'fanout', conns: 3000, window: 8, size: 64, deflate: false, nodes: 3 },
  // history throughput: pages of a 10,000-entry history (Switchboard only: Socket.IO keeps no history)
  'rt-history': { mode: 'history', conns: 8, window: 1, size: 64, entries: 10000, page: 1000, deflate: false },
  // a reconnect storm: N clients reconnect at once with a JWT and recover the `recover` publications they missed
  // (`pending` of them reconnecting at a time: below the servers' listen backlog, Node's default 511)
  'rt-reconnect-storm': { mode: 'storm', conns: 10000, recover: 10, size: 64, pending: 500, deflate: false },
};
const isRealtimeScenario = (name) => ['fanout', 'rpc'].includes(SCENARIOS[name]?.mode);
const isHistoryScenario = (name) => SCENARIOS[name]?.mode === 'history';
const isScaleOutScenario = (name) => SCENARIOS[name]?.nodes !== undefined;
const isStormScenario = (name) => SCENARIOS[name]?.mode === 'storm';
const QUICK = {
  duration: 2,
  warmup: 0.5,
  set: { 'broadcast.conns': 1000, 'idle.conns': 2000, 'echo-large.conns': 2, 'rt-fanout.conns': 1000, 'rt-reconnect-storm.conns': 2000 },
};
const HEADLINE = {
  echo: { key: 'msgs_per_s', label: 'msgs/s', better: 'higher' },
  broadcast: { key: 'deliveries_per_s', label: 'deliveries/s', better: 'higher' },
  idle: { key: 'kib_per_conn', label: 'KiB/conn', better: 'lower' },
  connect: { key: 'handshakes_per_s', label: 'handshakes/s', better: 'higher' },
  fanout: { key: 'deliveries_per_s', label: 'deliveries/s', better: 'higher' },
  rpc: { key: 'round_trips_per_s', label: 'round trips/s', better: 'higher' },
  history: { key: 'publications_per_s', label: 'publications/s', better: 'higher' },
  storm: { key: 'storm_s', label: 's until all recovered', better: 'lower' },
};

// -------------------------------------------------------------------- args

function usage() {
  return `usage: node bench/run.mjs [options]   (npm run bench -- [options])
  --quick                 smoke run (~2 min): ${QUICK.duration} s windows, fewer broadcast/idle/rt-fanout connections
  --runs N                runs per cell; the report shows medians (1)
  --servers a,b           from: ${Object.keys(SERVERS).join(', ')} (default: ${DEFAULT_SERVERS.join(',')})
  --scenarios x,y         from: ${Object.keys(SCENARIOS).join(', ')} (default: all)
  --duration S            measured window per cell (10)
  --warmup S              unmeasured warm-up before it (1)
  --set SCEN.KEY=VALUE    change a scenario parameter (conns window size type payload deflate; nodes of rt-cluster-fanout; entries page of rt-history; recover pending of rt-reconnect-storm), e.g. --set broadcast.conns=2000
  --dist DIR              the Switchboard build the real-time servers run (default: dist/ of this tree), e.g. an older build to compare
  --loadgens N            load generator processes per cell (1): the connections split between them (loadgen --procs; broadcast
                          and fanout share one window), pinned to CPUs 1..N (CPU 1 alone on a 2-CPU machine); not for
                          rt-history and rt-reconnect-storm (one process). Per scenario: --set SCEN.loadgens=N
  --no-pin                do not pin with taskset (machines with one CPU)
  --out DIR               results directory (bench/results/<time>)
  --report DIR            rebuild report.md and ratios.svg from DIR/results.json, run nothing
  --write-docs            copy the report, results.json and ratios.svg to docs/benchmarks.md and docs/benchmarks/
  --no-http2              skip the HTTP/2 section (bench/http2.mjs: WebSockets over one h2c connection against one TCP
                          connection each); it runs by default unless --servers or --scenarios narrow the run
  --http2                 run it even then
  --list                  print servers and scenarios, run nothing`;
}

function parseArgs(argv) {
  const o = { runs: 1, duration: 10, warmup: 1, set: {}, pin: true, quick: false, writeDocs: false, loadgens: 1 };
  const userSet = {};
  let durationGiven = false;
  let warmupGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--runs') o.runs = Math.max(1, parseInt(val(), 10) || 1);
    else if (a === '--servers') { o.servers = val().split(',').filter(Boolean); o.serversGiven = true; }
    else if (a === '--scenarios') o.scenarios = val().split(',').filter(Boolean);
    else if (a === '--duration') { o.duration = Number(val()); durationGiven = true; }
    else if (a === '--warmup') { o.warmup = Number(val()); warmupGiven = true; }
    else if (a === '--set') {
      const m = /^([\w-]+)\.(\w+)=(.*)$/.exec(val());
      if (!m) fail('--set wants SCENARIO.KEY=VALUE');
      userSet[`${m[1]}.${m[2]}`] = m[3];
    } else if (a === '--no-pin') o.pin = false;
    else if (a === '--loadgens') o.loadgens = Math.max(1, parseInt(val(), 10) || 1);
    else if (a === '--out') o.out = path.resolve(val());
    else if (a === '--dist') o.dist = path.resolve(val());
    else if (a === '--report') o.report = path.resolve(val());
    else if (a === '--write-docs') o.writeDocs = true;
    else if (a === '--list') o.list = true;
    else if (a === '--http2') o.http2 = true;
    else if (a === '--no-http2') o.http2 = false;
    else if (a === '--help' || a === '-h') { console.log(usage()); process.exit(0); }
    else fail(`unknown option ${a}\n${usage()}`);
  }
  if (o.quick) {
    if (!durationGiven) o.duration = QUICK.duration;
    if (!warmupGiven) o.warmup = QUICK.warmup;
    Object.assign(o.set, QUICK.set);
  }
  Object.assign(o.set, userSet);
  o.http2 ??= o.servers === undefined && o.scenarios === undefined;
  o.servers ??= DEFAULT_SERVERS;
  o.scenarios ??= Object.keys(SCENARIOS);
  for (const s of o.servers) if (!SERVERS[s]) fail(`unknown server ${s}`);
  for (const s of o.scenarios) if (!SCENARIOS[s]) fail(`unknown scenario ${s}`);
  o.scenarios = Object.keys(SCENARIOS).filter((s) => o.scenarios.includes(s)); // report order
  o.servers = Object.keys(SERVERS).filter((s) => o.servers.includes(s));
  if (!(o.duration > 0) || !(o.warmup >= 0)) fail('--duration must be > 0 and --warmup >= 0');
  return o;
}

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

// ------------------------------------------------------------------ /proc

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

function procCpuTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return null;
  }
}

function procStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) ?? [])[1] ?? NaN);
    return { rss: get('VmRSS'), hwm: get('VmHWM') };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** the PIDs of a process's descendants (a cluster primary's workers), from /proc */
function descendants(pid) {
  const parent = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift();
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out.sort((a, b) => a - b);
}

function fdCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

const pidAlive = (pid) => fs.existsSync(`/proc/${pid}`);

/** busy jiffies per CPU ("all", 0, 1, ...) from /proc/stat */
function cpuBusy() {
  const out = {};
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest is counted in user)
    out[m[1] === '' ? 'all' : m[1]] = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] || 0);
  }
  return out;
}

function hardNofile() {
  const r = spawnSync('sh', ['-c', 'ulimit -Hn']);
  const v = r.stdout?.toString().trim();
  return v === 'unlimited' ? Infinity : Number(v) || 1024;
}

function sumOf(xs, fn) {
  return xs.reduce((a, x) => a + fn(x), 0);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------- machine

/** the commit of the tree a --dist build belongs to, when it is in a git work tree */
function distCommit(dist) {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: path.dirname(dist), encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function machineInfo() {
  const cpus = os.cpus();
  const read = (f) => {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).stdout?.toString().trim() || null;
  const version = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return null;
    }
  };
  return {
    date: new Date().toISOString(),
    nproc: Number(spawnSync('nproc').stdout?.toString().trim()) || cpus.length,
    cpu_model: cpus[0]?.model ?? 'unknown',
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    sched_autogroup: read('/proc/sys/kernel/sched_autogroup_enabled'),
    nofile_hard: hardNofile(),
    git,
    // the build measured is the working tree: say when src/ differs from the commit
    src_dirty: (spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).stdout?.toString().trim() ?? '') !== '',
    versions: {
      ws: version('ws'), uWebSockets: version('uWebSockets.js'), bufferutil: version('bufferutil'), 'socket.io': version('socket.io'),
      '@socket.io/redis-adapter': version('@socket.io/redis-adapter'), ioredis: version('ioredis'),
    },
  };
}

// ------------------------------------------------------------------ cells

function scenarioParams(name, opts) {
  const p = { ...SCENARIOS[name] };
  for (const [k, v] of Object.entries(opts.set)) {
    const [s, key] = k.split('.');
    if (s !== name) continue;
    if (['conns', 'window', 'size', 'nodes', 'entries', 'page', 'recover', 'pending', 'loadgens'].includes(key)) p[key] = Number(v);
    else if (key === 'deflate') p[key] = v === 'true' || v === '1';
    else p[key] = v;
  }
  p.duration = opts.duration;
  p.warmup = opts.warmup;
  // processes of the C load generator (loadgen --procs); rt-history's (Node) and the storm run one
  p.loadgens = p.mode === 'history' || p.mode === 'storm' ? 1 : Math.max(1, Math.round(p.loadgens ?? opts.loadgens ?? 1));
  if (p.mode === 'idle') {
    p.hold = Math.max(3, opts.duration);
    const limit = hardNofile() - 200;
    if (p.conns > limit) {
      p.requested = p.conns;
      p.conns = limit;
      p.clamped = `clamped from ${p.requested} to ${limit}: RLIMIT_NOFILE hard limit ${limit + 200}`;
    }
  }
  if (p.mode === 'storm') {
    // the server and the load generator each hold every subscriber and the publisher
    const limit = hardNofile() - 201;
    if (p.conns > limit) {
      p.requested = p.conns;
      p.conns = limit;
      p.clamped = `clamped from ${p.requested} to ${limit}: RLIMIT_NOFILE hard limit ${limit + 201}`;
    }
    p.timeout = STORM_TIMEOUT_S;
  }
  return p;
}

/** the load generator's CPUs for N processes: 1..N, as far as the machine has them (CPU 0 is the server's) */
function loadgenCpus(n) {
  const nproc = Number(spawnSync('nproc').stdout?.toString().trim()) || os.cpus().length;
  const cpus = [];
  for (let c = 1; c <= Math.min(n, nproc - 1); c++) cpus.push(c);
  return cpus.length ? cpus : [1];
}

/** storm: how long each reconnection may take to recover (loadgen --connect-timeout) */
const STORM_TIMEOUT_S = 60;

/** storm: a fresh HS256 secret and one token per connection (user-<i>, valid 1 h), in a file for the load generator */
async function writeTokens(file, count) {
  const secret = randomBytes(32).toString('base64url');
  const key = new TextEncoder().encode(secret);
  const lines = [];
  for (let i = 0; i < count; i++) {
    lines.push(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(`user-${i}`).setIssuedAt().setExpirationTime('1h').sign(key));
  }
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return secret;
}

function loadgenArgs(p, port, raw, readyFile, profile, tokensFile) {
  const a = ['--mode', p.mode, '-p', String(port), '-c', String(p.conns)];
  if (['echo', 'broadcast', 'fanout', 'rpc', 'history'].includes(p.mode)) a.push('-w', String(p.window), '-s', String(p.size));
  if (p.mode === 'history') a.push('--entries', String(p.entries), '--page', String(p.page));
  if (p.mode === 'fanout' || p.mode === 'rpc') a.push('--profile', profile);
  if (p.mode === 'storm') a.push('-s', String(p.size), '--profile', profile, '--tokens', tokensFile, '--recover', String(p.recover), '--connect-timeout', String(p.timeout), '--max-pending', String(p.pending));
  if (p.mode === 'echo') {
    a.push(p.type === 'binary' ? '--binary' : '--text');
    if (p.payload) a.push('--payload', p.payload);
    if (raw) a.push('--raw');
  }
  if (p.deflate) a.push('--deflate');
  if (p.loadgens > 1) a.push('--procs', String(p.loadgens));
  if (p.mode === 'idle') a.push('-H', String(p.hold), '--ready-file', readyFile);
  else if (p.mode !== 'storm') a.push('-d', String(p.duration), '--warmup', String(p.warmup));
  return a;
}

function applicable(server, p) {
  // the reconnect storm: the servers with a storm profile, and nothing else runs it
  if (p.mode === 'storm') return hasStorm(server);
  // the history scenario: the servers that keep history, and it is all the Redis one runs
  if (p.mode === 'history' || isRedisServer(server)) return p.mode === 'history' && hasHistory(server);
  // cluster servers run the scale-out scenario and nothing else
  if (isClusterServer(server) && p.nodes === undefined) return false;
  // real-time servers run the real-time scenarios, and only they do
  if (isRealtimeServer(server) !== (p.mode === 'fanout' || p.mode === 'rpc')) return false;
  if (SERVERS[server].raw && (p.mode !== 'echo' || p.deflate)) return false;
  if (SERVERS[server].modes !== undefined && !SERVERS[server].modes.includes(p.mode)) return false;
  return true;
}

// children of this run, ended on Ctrl-C (and only these)
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    if (redis.dir) fs.rmSync(redis.dir, { recursive: true, force: true });
    if (redisCluster.dir) fs.rmSync(redisCluster.dir, { recursive: true, force: true });
    process.exit(130);
  });
}

let nextPort = 21000 + (process.pid % 500) * 8;

async function freePort() {
  for (;;) {
    const p = nextPort++;
    if (nextPort > 32000) nextPort = 21000;
    if (!(await portAccepts(p))) return p;
  }
}

// ------------------------------------------------------------------ Redis
// The scale-out cells share one redis-server of the driver's own (never a
// shared one on 6379): started on a free port at the first such cell, pinned
// like the servers, flushed before each cell, stopped at the end of the run.

const redis = { child: null, port: 0, dir: null, tail: '' };

function redisVersion() {
  const r = spawnSync(REDIS_BINARY, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return /v=(\S+)/.exec(r.stdout)?.[1] ?? r.stdout.trim();
}

/** one command over RESP; resolves with the first reply line (simple replies only) */
function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(10000, () => {
      s.destroy();
      reject(new Error(`redis ${args[0]}: time-out`));
    });
    s.once('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\r\n');
      if (i < 0) return;
      s.destroy();
      const line = buf.slice(0, i);
      if (line.startsWith('-')) reject(new Error(`redis ${args[0]}: ${line.slice(1)}`));
      else resolve(line);
    });
    s.once('error', reject);
  });
}

/** a running redis-server (started, or restarted if it died), flushed */
async function readyRedis(pin) {
  if (redis.child && redis.child.exitCode === null && redis.child.signalCode === null) {
    await redisCommand(redis.port, 'FLUSHALL');
    return redis;
  }
  redis.port = await freePort();
  redis.dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-redis-'));
  const argv = [REDIS_BINARY, '--port', String(redis.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', redis.dir, '--protected-mode', 'no'];
  const full = pin ? ['taskset', '-c', '0', ...argv] : argv;
  const child = track(spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
  redis.child = child;
  const keep = (d) => (redis.tail = (redis.tail + d.toString()).slice(-2000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${redis.tail.trim().slice(-300)}`);
    if ((await redisCommand(redis.port, 'PING').catch(() => null)) === '+PONG') break;
    if (Date.now() - t0 > 10000) throw new Error(`redis-server did not answer on port ${redis.port}: ${redis.tail.trim().slice(-300)}`);
    await sleep(50);
  }
  await redisCommand(redis.port, 'FLUSHALL');
  return redis;
}

async function stopRedis() {
  const child = redis.child;
  redis.child = null;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
  if (redis.dir) fs.rmSync(redis.dir, { recursive: true, force: true });
  redis.dir = null;
}

// The Redis Cluster cells (-rc servers) share a Redis Cluster of the driver's own:
// REDIS_CLUSTER_MASTERS cluster-enabled redis-servers on free ports (each one's bus
// port, +10000, free too, all below 55535), joined with `redis-cli --cluster create`
// at the first such cell, pinned like the servers, flushed before each cell (every
// master), stopped at the end of the run. A node that died restarts the whole cluster.

const redisCluster = { nodes: [], dir: null };

function clusterAlive() {
  return redisCluster.nodes.length > 0 && redisCluster.nodes.every((n) => n.child.exitCode === null && n.child.signalCode === null);
}

function redisCli(port, ...args) {
  const r = spawnSync(REDIS_CLI, ['-p', String(port), ...args], { encoding: 'utf8', timeout: 30000 });
  if (r.error || r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

async function freeClusterPort() {
  for (;;) {
    const p = await freePort();
    if (p + 10000 < 55535 && !(await portAccepts(p + 10000))) return p;
  }
}

/** a running Redis Cluster (started, or started again if a node died), flushed */
async function readyRedisCluster(pin) {
  if (clusterAlive()) {
    for (const n of redisCluster.nodes) await redisCommand(n.port, 'FLUSHALL');
    return redisCluster;
  }
  await stopRedisCluster();
  redisCluster.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-redis-cluster-'));
  for (let i = 0; i < REDIS_CLUSTER_MASTERS; i++) {
    const port = await freeClusterPort();
    const dir = path.join(redisCluster.dir, String(port));
    fs.mkdirSync(dir);
    const argv = [REDIS_BINARY, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--protected-mode', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'];
    const full = pin ? ['taskset', '-c', '0', ...argv] : argv;
    const child = track(spawn(full[0], full.slice(1), { stdio: ['ignore', 'ignore', 'ignore'] }));
    redisCluster.nodes.push({ port, child });
  }
  const t0 = Date.now();
  for (const n of redisCluster.nodes) {
    while ((await redisCommand(n.port, 'PING').catch(() => null)) !== '+PONG') {
      if (n.child.exitCode !== null || Date.now() - t0 > 10000) throw new Error(`redis-server (cluster node ${n.port}) did not start`);
      await sleep(50);
    }
  }
  redisCli(redisCluster.nodes[0].port, '--cluster', 'create', ...redisCluster.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes');
  for (const n of redisCluster.nodes) {
    while (!/cluster_state:ok/.test(redisCli(n.port, 'CLUSTER', 'INFO'))) {
      if (Date.now() - t0 > 30000) throw new Error('the Redis Cluster did not settle');
      await sleep(100);
    }
  }
  return redisCluster;
}

async function stopRedisCluster() {
  const nodes = redisCluster.nodes;
  redisCluster.nodes = [];
  await Promise.all(
    nodes.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }),
  );
  if (redisCluster.dir) fs.rmSync(redisCluster.dir, { recursive: true, force: true });
  redisCluster.dir = null;
}

function startServer(name, port, p, pin, extraEnv, opts = {}) {
  const def = SERVERS[name];
  const env = { ...process.env, ...(def.env ?? {}), PORT: String(port), DEFLATE: p.deflate ? '1' : '0' };
  for (const k of def.unset ?? []) delete env[k];
  // the real-time servers join others through Redis when REDIS_URL is set: only the cluster ones get it
  delete env.REDIS_URL;
  if (opts.dist) env.SB_DIST = opts.dist;
  if (p.mode === 'history') Object.assign(env, { HISTORY_ENTRIES: String(p.entries), HISTORY_SIZE: String(p.size) });
  Object.assign(env, extraEnv ?? {});
  const argv = def.argv.map((x) => (x === '$PORT' ? String(port) : x));
  const full = pin ? ['taskset', '-c', '0', ...argv] : argv;
  const child = track(spawn(full[0], full.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let tail = '';
  let ready = false; // a cluster primary prints `ready <worker pids>` once every worker is up
  const keep = (d) => {
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout.on('data', (d) => {
    keep(d);
    if (!ready && /^ready\b/m.test(tail)) ready = true;
  });
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, tail: () => tail, ready: () => ready };
}

async function stopServer(srv, workers = []) {
  if (srv.child.exitCode === null && srv.child.signalCode === null) {
    srv.child.kill('SIGTERM');
    const t = setTimeout(() => srv.child.kill('SIGKILL'), 3000);
    await srv.exited;
    clearTimeout(t);
  }
  // a cluster primary stops its workers before it exits; make sure, so that none runs into the next cell
  const t0 = Date.now();
  while (workers.some(pidAlive)) {
    if (Date.now() - t0 > 3000) {
      for (const w of workers.filter(pidAlive)) {
        try {
          process.kill(w, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      break;
    }
    await sleep(50);
  }
}

async function runCell(server, scenario, run, opts) {
  const p = scenarioParams(scenario, opts);
  const cell = { server, scenario, run, params: p, status: 'ok' };
  // a cluster, or one process with Redis: the driver's redis-server, its CPU measured with the server's
  const cluster = isClusterServer(server) || isRedisServer(server);
  // a server that prints `ready` once it can serve (a cluster's workers are up, the history is filled)
  const waitReady = cluster || p.mode === 'history';
  let extraEnv = null;
  const onRedisCluster = isRedisClusterServer(server);
  if (cluster) {
    try {
      if (onRedisCluster) await readyRedisCluster(opts.pin);
      else await readyRedis(opts.pin);
    } catch (e) {
      cell.status = 'failed';
      cell.reason = String(e.message ?? e);
      return cell;
    }
    const redisPort = onRedisCluster ? redisCluster.nodes[0].port : redis.port;
    // a Redis Cluster: the URL of one node; the broker (or the adapter, told by REDIS_CLUSTER) finds the others
    extraEnv = { REDIS_URL: `redis://127.0.0.1:${redisPort}`, NODES: String(p.nodes), ...(onRedisCluster ? { REDIS_CLUSTER: '1' } : {}) };
    cell.redis_port = redisPort;
    if (onRedisCluster) cell.redis_cluster_ports = redisCluster.nodes.map((n) => n.port);
  }
  // the storm: the server verifies JWTs signed with a fresh secret; the load generator sends them
  let tokensFile = null;
  if (p.mode === 'storm') {
    tokensFile = path.join(os.tmpdir(), `sb-bench-tokens-${process.pid}-${run}.txt`);
    extraEnv = { ...(extraEnv ?? {}), JWT_SECRET: await writeTokens(tokensFile, p.conns + 1) };
  }
  cell.loadavg_start = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const port = await freePort();
  const srv = startServer(server, port, p, opts.pin, extraEnv, opts);
  let exitInfo = null;
  srv.exited.then((e) => (exitInfo = e));
  // wait until the port accepts (and a cluster's every worker is ready)
  const t0 = Date.now();
  for (;;) {
    if (exitInfo) break;
    if ((!waitReady || srv.ready()) && (await portAccepts(port))) break;
    if (Date.now() - t0 > (waitReady ? 60000 : 15000)) break;
    await sleep(50);
  }
  if (exitInfo || (waitReady && !srv.ready()) || !(await portAccepts(port))) {
    await stopServer(srv, cluster ? descendants(srv.child.pid) : []);
    if (tokensFile) fs.rmSync(tokensFile, { force: true });
    const code = exitInfo?.code;
    cell.status = code === 3 ? 'n/a' : 'failed';
    cell.reason = code === 3 ? 'not supported by this server (exit 3)' : `server did not start (exit ${code}): ${srv.tail().trim().slice(-300)}`;
    return cell;
  }
  const pid = srv.child.pid;
  // a cluster: the primary, its workers and redis-server are all measured
  const workers = cluster ? descendants(pid) : [];
  const nodePids = [pid, ...workers];
  // every redis-server of the cell: the one, or each node of the Redis Cluster
  const redisPids = !cluster ? [] : onRedisCluster ? redisCluster.nodes.map((n) => n.child.pid) : [redis.child.pid];
  if (cluster) {
    cell.pids = { primary: pid, workers, redis: redisPids.length === 1 ? redisPids[0] : redisPids };
    cell.nodes = workers.length;
  }
  await sleep(500);
  const before = procStatus(pid);
  cell.rss_before_kib = cluster ? sumOf(nodePids, (x) => procStatus(x).rss) : before.rss;
  const fdsBefore = cluster ? workers.map(fdCount) : null;

  const readyFile = path.join(os.tmpdir(), `sb-bench-ready-${process.pid}-${port}.json`);
  fs.rmSync(readyFile, { force: true });
  const profile = p.mode === 'storm' ? SERVERS[server].stormProfile : SERVERS[server].profile;
  const args = loadgenArgs(p, port, SERVERS[server].raw, readyFile, profile, tokensFile);
  cell.loadgen_args = args.join(' ');
  // the history scenario has a load generator of its own (bench/history-load.mjs, Node)
  const lgBin = p.mode === 'history' ? [process.execPath, 'bench/history-load.mjs'] : [LOADGEN];
  // the load generator's CPUs: 1, or 1..N for N processes when the machine has them (never the server's CPU 0)
  const lgCpus = loadgenCpus(p.loadgens);
  cell.loadgen_cpus = opts.pin ? lgCpus : null;
  const lgArgv = opts.pin ? ['taskset', '-c', lgCpus.join(','), ...lgBin, ...args] : [...lgBin, ...args];
  const lg = track(spawn(lgArgv[0], lgArgv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderrTail = '';
  const marks = {};
  const sample = cluster
    ? () => {
        const parts = nodePids.map(procCpuTicks);
        const redisParts = redisPids.map(procCpuTicks);
        const rds = redisParts.some((x) => x === null) ? null : redisParts.reduce((a, b) => a + b, 0);
        const nodes = parts.some((x) => x === null) ? null : parts.reduce((a, b) => a + b, 0);
        return { t: process.hrtime.bigint(), srv: nodes === null || rds === null ? null : nodes + rds, nodes, rds, parts, cpu: cpuBusy() };
      }
    : () => ({ t: process.hrtime.bigint(), srv: procCpuTicks(pid), cpu: cpuBusy() });
  lg.stdout.on('data', (d) => (stdout += d));
  let buf = '';
  lg.stderr.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.startsWith('@window-start')) {
        marks.start = sample();
        // connections per worker: its open descriptors now, less those it had before the load
        if (cluster) cell.worker_conns = workers.map((w, i) => fdCount(w) - fdsBefore[i]);
      }
      else if (line.startsWith('@window-end')) marks.end = sample();
      else stderrTail = (stderrTail + line + '\n').slice(-2000);
    }
  });
  const lgExit = new Promise((resolve) => lg.once('exit', (code) => resolve(code)));
  const limitMs = (p.mode === 'idle' ? p.hold + 120 : p.mode === 'storm' ? 3 * p.timeout + 120 : p.duration + p.warmup + 90) * 1000;
  const killer = setTimeout(() => lg.kill('SIGKILL'), limitMs);
  // idle: sample the server's RSS one second before the hold ends
  let heldSampler = null;
  if (p.mode === 'idle') {
    heldSampler = (async () => {
      while (!fs.existsSync(readyFile)) {
        if (lg.exitCode !== null) return;
        await sleep(50);
      }
      await sleep(Math.max(500, (p.hold - 1) * 1000));
      cell.rss_held_kib = procStatus(pid).rss;
    })();
  }
  const code = await lgExit;
  clearTimeout(killer);
  if (heldSampler) await heldSampler;
  fs.rmSync(readyFile, { force: true });
  if (tokensFile) fs.rmSync(tokensFile, { force: true });
  const after = procStatus(pid);
  cell.rss_peak_kib = cluster ? sumOf(nodePids, (x) => procStatus(x).hwm) : after.hwm;
  if (cluster) cell.redis_rss_kib = sumOf(redisPids, (x) => procStatus(x).rss);
  const serverAlive = srv.child.exitCode === null && srv.child.signalCode === null && workers.every(pidAlive);
  await stopServer(srv, workers);

  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) {
    cell.status = 'failed';
    cell.reason = `loadgen exit ${code}: ${stderrTail.trim().slice(-300)}`;
    return cell;
  }
  const r = JSON.parse(line);
  cell.loadgen = r;
  cell.loadgen_exit = code;
  if (!serverAlive) cell.server_died = srv.tail().trim().slice(-300);
  if (p.deflate && r.deflate_negotiated === 0) {
    cell.status = 'n/a';
    cell.reason = 'permessage-deflate not negotiated';
  }
  if (marks.start && marks.end) {
    const secs = Number(marks.end.t - marks.start.t) / 1e9;
    cell.window_s = secs;
    const srvTicks = marks.end.srv !== null && marks.start.srv !== null ? marks.end.srv - marks.start.srv : NaN;
    cell.server_cpu_s = srvTicks / CLK_TCK;
    cell.server_cpu_pct = (100 * cell.server_cpu_s) / secs;
    const d = (k) => (marks.end.cpu[k] ?? 0) - (marks.start.cpu[k] ?? 0);
    cell.cpu0_pct = (100 * d('0')) / CLK_TCK / secs;
    cell.cpu1_pct = (100 * d('1')) / CLK_TCK / secs;
    const bg = d('all') / CLK_TCK - cell.server_cpu_s - r.client_cpu_s;
    cell.bg_cores = Math.max(0, bg / secs);
    // what others took from each pinned core (the server runs on CPU 0, the generator on CPU 1)
    cell.bg_cpu0_pct = Math.max(0, cell.cpu0_pct - cell.server_cpu_pct);
    // the generator's CPUs (CPU 1, or 1..N): what others took of them, per CPU
    const lgSet = cell.loadgen_cpus ?? [1];
    const lgBusy = lgSet.reduce((sum, c) => sum + (100 * d(String(c))) / CLK_TCK / secs, 0);
    cell.bg_cpu1_pct = Math.max(0, (lgBusy - r.client_cpu_pct) / lgSet.length);
    if (cluster) {
      cell.node_cpu_s = (marks.end.nodes - marks.start.nodes) / CLK_TCK;
      cell.redis_cpu_s = (marks.end.rds - marks.start.rds) / CLK_TCK;
      cell.redis_cpu_pct = (100 * cell.redis_cpu_s) / secs;
      cell.process_cpu_s = {
        primary: (marks.end.parts[0] - marks.start.parts[0]) / CLK_TCK,
        workers: workers.map((_, i) => (marks.end.parts[i + 1] - marks.start.parts[i + 1]) / CLK_TCK),
      };
    }
  }
  cell.client_cpu_pct = r.client_cpu_pct;
  cell.loadgen_cores = cell.loadgen_cpus?.length ?? 1;
  cell.errors = r.errors?.total ?? 0;
  if (['echo', 'broadcast', 'fanout', 'rpc', 'history'].includes(p.mode)) {
    cell.msgs_per_s = r.msgs_per_s;
    cell.mb_per_s = r.mb_per_s;
    cell.msgs_per_cpu_s = cell.server_cpu_s > 0 ? r.msgs / cell.server_cpu_s : NaN;
    if (cluster) cell.msgs_per_node_cpu_s = cell.node_cpu_s > 0 ? r.msgs / cell.node_cpu_s : NaN;
    cell.p50_ms = r.latency_us.p50 / 1000;
    cell.p99_ms = r.latency_us.p99 / 1000;
  }
  if (p.mode === 'broadcast') {
    cell.deliveries_per_s = r.deliveries_per_s;
    cell.broadcasts_per_s = r.broadcasts_per_s;
  }
  if (p.mode === 'fanout') {
    cell.deliveries_per_s = r.deliveries_per_s;
    cell.publications_per_s = r.publications_per_s;
  }
  if (p.mode === 'rpc') cell.round_trips_per_s = r.round_trips_per_s;
  if (p.mode === 'history') {
    cell.publications_per_s = r.publications_per_s;
    cell.replies_per_s = r.replies_per_s;
  }
  if (p.mode === 'connect') {
    cell.handshakes_per_s = r.handshakes_per_s;
    cell.handshakes_per_cpu_s = cell.server_cpu_s > 0 ? r.handshakes / cell.server_cpu_s : NaN;
    cell.p50_ms = r.latency_us.p50 / 1000;
    cell.p99_ms = r.latency_us.p99 / 1000;
  }
  if (p.mode === 'storm') {
    cell.storm_s = r.storm_s;
    cell.storm_clients = r.storm_clients;
    cell.recovered = r.recovered;
    cell.recovered_publications = r.recovered_publications;
    cell.recovered_per_s = r.recovered_per_s;
    cell.recovered_per_cpu_s = cell.server_cpu_s > 0 ? r.recovered / cell.server_cpu_s : NaN;
    cell.msgs_per_cpu_s = cell.recovered_per_cpu_s;
    cell.p50_ms = r.latency_us.p50 / 1000;
    cell.p99_ms = r.latency_us.p99 / 1000;
    cell.max_ms = r.latency_us.max / 1000;
    cell.setup_s = r.setup_s;
  }
  if (p.mode === 'idle') {
    cell.established = r.established;
    cell.held = r.held;
    if (r.established > 0 && cell.rss_held_kib > 0) cell.kib_per_conn = (cell.rss_held_kib - cell.rss_before_kib) / r.established;
  }
  return cell;
}

// ------------------------------------------------------------- aggregation

const NUMERIC = [
  'msgs_per_s', 'mb_per_s', 'p50_ms', 'p99_ms', 'server_cpu_s', 'server_cpu_pct', 'msgs_per_cpu_s', 'rss_before_kib',
  'rss_peak_kib', 'rss_held_kib', 'kib_per_conn', 'client_cpu_pct', 'bg_cores', 'cpu0_pct', 'cpu1_pct', 'errors',
  'deliveries_per_s', 'broadcasts_per_s', 'handshakes_per_s', 'handshakes_per_cpu_s', 'established', 'held', 'window_s',
  'bg_cpu0_pct', 'bg_cpu1_pct', 'publications_per_s', 'round_trips_per_s', 'replies_per_s',
  'node_cpu_s', 'redis_cpu_s', 'redis_cpu_pct', 'msgs_per_node_cpu_s', 'redis_rss_kib', 'nodes',
  'loadgen_cores', 'storm_s', 'storm_clients', 'recovered', 'recovered_publications', 'recovered_per_s', 'recovered_per_cpu_s', 'max_ms', 'setup_s',
];

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function aggregate(cells) {
  const groups = new Map();
  for (const c of cells) {
    if (c.bg_cpu0_pct === undefined && Number.isFinite(c.cpu0_pct)) {
      c.bg_cpu0_pct = Math.max(0, c.cpu0_pct - c.server_cpu_pct);
      c.bg_cpu1_pct = Math.max(0, c.cpu1_pct - c.client_cpu_pct);
    }
    const k = `${c.scenario}\u0000${c.server}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(c);
  }
  const out = {};
  for (const [k, list] of groups) {
    const [scenario, server] = k.split('\u0000');
    const ok = list.filter((c) => c.status === 'ok');
    const agg = { scenario, server, runs: list.length, ok_runs: ok.length, params: list[0].params };
    if (ok.length === 0) {
      agg.status = list[0].status;
      agg.reason = list[0].reason;
    } else {
      agg.status = 'ok';
      for (const key of NUMERIC) agg[key] = median(ok.map((c) => c[key]));
      agg.errors = ok.reduce((s, c) => s + (c.errors || 0), 0);
      const hk = HEADLINE[agg.params.mode].key;
      const hv = ok.map((c) => c[hk]).filter(Number.isFinite);
      if (hv.length > 1) agg.spread = (Math.max(...hv) - Math.min(...hv)) / median(hv);
      if (list.some((c) => c.server_died)) agg.server_died = true;
    }
    (out[scenario] ??= {})[server] = agg;
  }
  return out;
}

// ------------------------------------------------------------------ report

const f = {
  int: (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–'),
  n1: (x) => (Number.isFinite(x) ? x.toFixed(1) : '–'),
  n2: (x) => (Number.isFinite(x) ? x.toFixed(2) : '–'),
  ms: (x) => (!Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3)),
  mib: (kib) => (Number.isFinite(kib) ? (kib / 1024).toFixed(0) : '–'),
  ratio: (x) => (Number.isFinite(x) ? `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×` : '–'),
  pct: (x) => (Number.isFinite(x) ? `${x.toFixed(0)}%` : '–'),
};

/** server ÷ base for the headline figure (or `key`) of a scenario */
function ratio(agg, scenario, server, base, key) {
  const a = agg[scenario]?.[server];
  const b = agg[scenario]?.[base];
  if (!a || !b || a.status !== 'ok' || b.status !== 'ok') return NaN;
  const k = key ?? HEADLINE[a.params.mode].key;
  return a[k] / b[k];
}

/** ‡ the load generator was (nearly) saturated; † the server was not; § other processes took a share of a pinned core */
function flags(a) {
  let s = '';
  if (a.params.mode === 'idle') return ''; // memory, not CPU
  // several generator processes: ≥ 90 % of the CPUs they were pinned to (all on CPU 1 on a 2-CPU machine)
  if (a.client_cpu_pct >= 90 * (a.loadgen_cores || 1)) s += '‡';
  if (a.server_cpu_pct < 75) s += '†';
  if (a.bg_cpu0_pct >= 25 || a.bg_cpu1_pct >= 25) s += '§';
  return s;
}

function buildReport(data) {
  const { meta, cells } = data;
  const agg = aggregate(cells);
  const scenarios = meta.scenarios.filter((s) => agg[s]);
  const servers = meta.servers;
  const wsScenarios = scenarios.filter((s) => !isRealtimeScenario(s) && !isHistoryScenario(s) && !isStormScenario(s));
  const stormScenarios = scenarios.filter(isStormScenario);
  const historyScenarios = scenarios.filter(isHistoryScenario);
  const rtScenarios = scenarios.filter((s) => isRealtimeScenario(s) && !isScaleOutScenario(s));
  const scaleScenarios = scenarios.filter(isScaleOutScenario);
  const wsServers = servers.filter((s) => !isRealtimeServer(s));
  const rtServers = servers.filter((s) => isRealtimeServer(s) && !isClusterServer(s) && !isRedisServer(s));
  const L = [];
  L.push(`# Switchboard benchmarks`);
  L.push('');
  L.push(`Command: \`${meta.command}\``);
  L.push('');
  const m = meta.machine;
  L.push(
    `Machine: ${m.nproc} CPUs (${m.cpu_model}), ${m.memory_gib} GiB, ${m.kernel}, Node ${m.node}; ` +
      `load average ${m.loadavg.join(' ')} before the run, ${meta.loadavg_after?.join(' ') ?? '?'} after; ` +
      `RLIMIT_NOFILE hard ${m.nofile_hard}; sched_autogroup ${m.sched_autogroup ?? '?'}; ` +
      `${meta.pinned ? 'server pinned to CPU 0, load generator to CPU 1' : 'not pinned'}. ` +
      `Started ${m.date}, commit ${m.git ?? '?'}${m.src_dirty ? ' (src/ with uncommitted changes)' : ''}; ws ${m.versions.ws}, uWebSockets.js ${m.versions.uWebSockets}, bufferutil ${m.versions.bufferutil}${rtScenarios.length ? `, socket.io ${m.versions['socket.io'] ?? '?'}` : ''}. ` +
      `${meta.runs} run(s) per cell${meta.runs > 1 ? ' (medians)' : ''}` +
      (scenarios.some((x) => !isStormScenario(x)) ? `, ${meta.duration} s measured after ${meta.warmup} s warm-up` : '') +
      (scenarios.some(isStormScenario) ? `${scenarios.some((x) => !isStormScenario(x)) ? ';' : ','} the storm measured from the reconnection to the last recovery` : '') +
      '.' +
      (meta.dist ? ` The real-time servers ran the build in \`${meta.dist}\`${meta.dist_git ? ` (${meta.dist_git})` : ''}, not this tree's dist/.` : ''),
  );
  L.push('');
  // summary
  if (wsScenarios.length) {
    L.push('## Summary');
    L.push('');
    L.push('Headline figure per scenario (idle: server memory per connection, lower is better; everything else higher is better).');
    L.push('');
    const vsUws = wsServers.includes('switchboard') && wsServers.includes('uws');
    L.push(`| scenario | figure | ${wsServers.join(' | ')} | ${wsServers.filter((s) => s !== 'ws').map((s) => `${s} ÷ ws`).join(' | ')} |${vsUws ? ' switchboard ÷ uws |' : ''}`);
    L.push(`|---|---|${wsServers.map(() => '---:').join('|')}|${wsServers.filter((s) => s !== 'ws').map(() => '---:').join('|')}|${vsUws ? '---:|' : ''}`);
    for (const s of wsScenarios) {
      const mode = SCENARIOS[s].mode;
      const h = HEADLINE[mode];
      const cellsRow = wsServers.map((sv) => {
        const a = agg[s][sv];
        if (!a) return '';
        if (a.status !== 'ok') return a.status;
        return (mode === 'idle' ? f.n1(a[h.key]) : f.int(a[h.key])) + flags(a);
      });
      const ratios = wsServers.filter((sv) => sv !== 'ws').map((sv) => f.ratio(ratio(agg, s, sv, 'ws')));
      L.push(`| ${s} | ${h.label} | ${cellsRow.join(' | ')} | ${ratios.join(' | ')} |${vsUws ? ` ${f.ratio(ratio(agg, s, 'switchboard', 'uws'))} |` : ''}`);
    }
    L.push('');
  }
  if (rtScenarios.length) {
    const others = rtServers.filter((sv) => sv !== RT_BASE);
    L.push(`## Real-time: Switchboard vs Socket.IO`);
    L.push('');
    L.push(
      'The real-time layer (`createRealtimeServer`, protocol in docs/protocol.md) against Socket.IO v4, each through its own ' +
        'wire protocol. Throughput, and the same work per second of server CPU (less sensitive to a saturated load generator).',
    );
    L.push('');
    const perCpu = (s) => `${HEADLINE[SCENARIOS[s].mode].label.replace('/s', '')} per CPU-s`;
    const head = [...rtServers, ...others.map((sv) => `${sv} ÷ ${RT_BASE}`)];
    const headCpu = [...rtServers, ...others.map((sv) => `${sv} ÷ ${RT_BASE}`)].map((h, i) => (i === 0 ? `per server CPU-s: ${h}` : h));
    L.push(`| scenario | figure | ${[...head, ...headCpu].join(' | ')} |`);
    L.push(`|---|---|${[...head, ...headCpu].map(() => '---:').join('|')}|`);
    for (const s of rtScenarios) {
      const h = HEADLINE[SCENARIOS[s].mode];
      const val = (sv, key, fl) => {
        const a = agg[s][sv];
        if (!a) return '';
        if (a.status !== 'ok') return a.status;
        return f.int(a[key]) + (fl ? flags(a) : '');
      };
      const row = [
        ...rtServers.map((sv) => val(sv, h.key, true)),
        ...others.map((sv) => f.ratio(ratio(agg, s, sv, RT_BASE))),
        ...rtServers.map((sv) => val(sv, 'msgs_per_cpu_s', false)),
        ...others.map((sv) => f.ratio(ratio(agg, s, sv, RT_BASE, 'msgs_per_cpu_s'))),
      ];
      L.push(`| ${s} | ${h.label} (${perCpu(s)}) | ${row.join(' | ')} |`);
    }
    L.push('');
  }
  for (const s of scaleScenarios) scaleOutSection(L, agg, s, meta, cells);
  for (const s of historyScenarios) historySection(L, agg, s, meta, cells);
  for (const s of stormScenarios) stormSection(L, agg, s, meta, cells);
  loadgenLimitLine(L, agg, scenarios, servers);
  L.push(
    '‡ the load generator used ≥ 90 % of its core: the figure may be a lower bound for the server. ' +
      '† the server used < 75 % of its core in the window: something else was the bottleneck. ' +
      '§ other processes on the machine took ≥ 25 % of the server\'s or the generator\'s pinned core: noisy. ' +
      'n/a: the server does not support the scenario (e.g. permessage-deflate); raw-tcp and node-tcp run the echo scenarios only, node-floor the connect one' +
      (rtScenarios.length || scaleScenarios.length
        ? `; the real-time servers run the rt-* scenarios only${scaleScenarios.length ? ', the -cluster servers rt-cluster-fanout only' : ''}. `
        : '. ') +
      'Ratios are of the headline figures (for idle: memory per connection).',
  );
  L.push('');
  // details
  for (const s of [...wsScenarios, ...rtScenarios]) {
    const p = Object.values(agg[s])[0].params;
    L.push(`## ${s}`);
    L.push('');
    L.push(describe(s, p));
    L.push('');
    const rows = servers.map((sv) => agg[s][sv]).filter(Boolean);
    if (p.mode === 'echo' || p.mode === 'broadcast') {
      const head = p.mode === 'echo' ? 'msgs/s' : 'deliveries/s';
      L.push(`| server | ${head} | ÷ ws | ÷ uws | MB/s | p50 ms | p99 ms | server CPU-s | msgs per CPU-s | server CPU | peak RSS MiB | loadgen CPU | bg CPU0 | bg CPU1 | errors |`);
      L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
      for (const a of rows) {
        if (a.status !== 'ok') { L.push(`| ${a.server} | ${a.status} | | | | | | | | | | | | | ${a.reason ?? ''} |`); continue; }
        L.push(
          `| ${a.server} | ${f.int(a.msgs_per_s)}${flags(a)} | ${f.ratio(ratio(agg, s, a.server, 'ws'))} | ${f.ratio(ratio(agg, s, a.server, 'uws'))} | ` +
            `${f.n1(a.mb_per_s)} | ${f.ms(a.p50_ms)} | ${f.ms(a.p99_ms)} | ${f.n2(a.server_cpu_s)} | ${f.int(a.msgs_per_cpu_s)} | ` +
            `${f.pct(a.server_cpu_pct)} | ${f.mib(a.rss_peak_kib)} | ${f.pct(a.client_cpu_pct)} | ${f.pct(a.bg_cpu0_pct)} | ${f.pct(a.bg_cpu1_pct)} | ${f.int(a.errors)} |`,
        );
      }
      if (p.mode === 'broadcast') {
        L.push('');
        L.push(
          'Broadcasts completed per second (every receiver got it): ' +
            rows.filter((a) => a.status === 'ok').map((a) => `${a.server} ${f.int(a.broadcasts_per_s)}`).join(', ') + '.',
        );
      }
    } else if (p.mode === 'idle') {
      L.push('| server | connections held | KiB/conn | ÷ ws | ÷ uws | RSS before MiB | RSS held MiB | peak RSS MiB | errors |');
      L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
      for (const a of rows) {
        if (a.status !== 'ok') { L.push(`| ${a.server} | ${a.status} | | | | | | | ${a.reason ?? ''} |`); continue; }
        L.push(
          `| ${a.server} | ${f.int(a.held)} | ${f.n1(a.kib_per_conn)} | ${f.ratio(ratio(agg, s, a.server, 'ws'))} | ${f.ratio(ratio(agg, s, a.server, 'uws'))} | ` +
            `${f.mib(a.rss_before_kib)} | ${f.mib(a.rss_held_kib)} | ${f.mib(a.rss_peak_kib)} | ${f.int(a.errors)} |`,
        );
      }
    } else if (p.mode === 'fanout' || p.mode === 'rpc') {
      rtDetails(L, agg, s, p, rows);
    } else if (p.mode === 'connect') {
      L.push('| server | handshakes/s | ÷ ws | ÷ uws | p50 ms | p99 ms | server CPU-s | handshakes per CPU-s | server CPU | peak RSS MiB | loadgen CPU | bg CPU0 | bg CPU1 | errors |');
      L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
      for (const a of rows) {
        if (a.status !== 'ok') { L.push(`| ${a.server} | ${a.status} | | | | | | | | | | | | ${a.reason ?? ''} |`); continue; }
        L.push(
          `| ${a.server} | ${f.int(a.handshakes_per_s)}${flags(a)} | ${f.ratio(ratio(agg, s, a.server, 'ws'))} | ${f.ratio(ratio(agg, s, a.server, 'uws'))} | ` +
            `${f.ms(a.p50_ms)} | ${f.ms(a.p99_ms)} | ${f.n2(a.server_cpu_s)} | ${f.int(a.handshakes_per_cpu_s)} | ${f.pct(a.server_cpu_pct)} | ` +
            `${f.mib(a.rss_peak_kib)} | ${f.pct(a.client_cpu_pct)} | ${f.pct(a.bg_cpu0_pct)} | ${f.pct(a.bg_cpu1_pct)} | ${f.int(a.errors)} |`,
        );
      }
    }
    errorsAndSpread(L, cells, s, rows);
    L.push('');
  }
  L.push('## Servers');
  L.push('');
  for (const sv of servers) L.push(`* **${sv}**: ${SERVERS[sv]?.note ?? ''}`);
  L.push('');
  L.push('## How to read this');
  L.push('');
  L.push(
    '* msgs/s and MB/s count echoed (or delivered) messages and their payload bytes, one direction, inside the measured window; ' +
      'MB = 10^6 bytes. Latency: from queueing a message on the client to having its echo verified (echo), from the send ' +
      'timestamp inside the message to its verified delivery (broadcast), from `connect()` to a verified `101` (connect). ' +
      'Closed loop: with W messages in flight per connection, latency includes queueing.',
  );
  L.push(
    '* server CPU-s: user + system time of the server process in the window (from /proc/PID/stat); 100 % = its whole pinned core. ' +
      'msgs per CPU-s = messages ÷ server CPU-seconds: efficiency, less sensitive to a saturated load generator than msgs/s. ' +
      'peak RSS = VmHWM at the end of the cell.',
  );
  L.push(
    '* loadgen CPU: the load generator\'s own CPU in the window (getrusage). bg CPU0 / bg CPU1: the share of the server\'s / ' +
      'the generator\'s pinned core that other processes on the machine took in the window (from /proc/stat). ' +
      'results.json also has bg_cores, the CPU that everything else used on all cores.',
  );
  if (rtScenarios.length) {
    L.push(
      '* Real-time scenarios: each server speaks its own protocol (Switchboard\'s docs/protocol.md in JSON; Engine.IO/Socket.IO v4 ' +
        'packets), driven from bench/loadgen/profiles/*.profile. Deliveries/s counts publications received by subscribers; ' +
        'latency runs from the publisher\'s send timestamp inside the payload to the subscriber\'s check of the delivery ' +
        '(rt-fanout), from sending a request to checking its reply (rt-rpc). Per CPU-s = deliveries (round trips) ÷ server CPU-seconds. ' +
        `Ratios are against ${RT_BASE}.`,
    );
  }
  L.push('* Every echoed or delivered byte is verified; errors count mismatches, losses, protocol violations, failed handshakes and unexpected closes. A figure with errors > 0 is suspect.');
  L.push('');
  L.push(...http2Section(data.http2));
  return L.join('\n');
}

/** the cells whose load generator may have been the limit (‡), named in one place */
function loadgenLimitLine(L, agg, scenarios, servers) {
  const hits = [];
  for (const s of scenarios) {
    for (const sv of servers) {
      const a = agg[s]?.[sv];
      if (a?.status === 'ok' && flags(a).includes('‡')) hits.push(`${s} ${sv} (${f.pct(a.client_cpu_pct)}${a.params.loadgens > 1 ? ` over ${a.params.loadgens} processes` : ''})`);
    }
  }
  L.push(
    hits.length
      ? `Load generator at ≥ 90 % of its CPU (‡), so the server's figure may be a lower bound: ${hits.join(', ')}. ` +
          'With a CPU to spare, `--loadgens 2` (or `--set SCENARIO.loadgens=2`) tells whether a second one raises it.'
      : 'The load generator stayed below 90 % of its CPU in every cell (no ‡).',
  );
  L.push('');
}

/** a scenario's errors per cell and the spread of its headline over runs */
function errorsAndSpread(L, cells, s, rows) {
  const withErrors = cells.filter((c) => c.scenario === s && c.loadgen?.errors?.total > 0);
  if (withErrors.length) {
    L.push('');
    L.push(
      'Errors: ' +
        withErrors
          .map((c) => {
            const kinds = Object.entries(c.loadgen.errors).filter(([k, v]) => k !== 'total' && v > 0);
            return `${c.server} run ${c.run}: ${kinds.map(([k, v]) => `${k} ${f.int(v)}`).join(', ')}`;
          })
          .join('; ') +
        ' (see "Errors" in bench/README.md).',
    );
  }
  const spreads = rows.filter((a) => Number.isFinite(a.spread));
  if (spreads.length) {
    L.push('');
    L.push(`Spread of the headline over runs ((max − min) ÷ median): ${spreads.map((a) => `${a.server} ${(a.spread * 100).toFixed(0)} %`).join(', ')}.`);
  }
}

/** "History": publications served per second from a long history, memory broker and Redis */
function historySection(L, agg, s, meta, cells) {
  const rows = meta.servers.map((sv) => agg[s][sv]).filter(Boolean);
  if (rows.length === 0) return;
  const p = rows[0].params;
  L.push(`## ${s}: history throughput`);
  L.push('');
  L.push(describe(s, p));
  L.push('');
  L.push(
    '| server | broker | publications/s | replies/s | p50 ms | p99 ms | server CPU-s | of it Redis | publications per CPU-s | without Redis | ' +
      'server CPU | peak RSS MiB | loadgen CPU | bg CPU0 | bg CPU1 | errors |',
  );
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const a of rows) {
    const redisBroker = isRedisServer(a.server);
    if (a.status !== 'ok') {
      L.push(`| ${a.server} | ${redisBroker ? 'Redis' : 'memory'} | ${a.status} | | | | | | | | | | | | | ${a.reason ?? ''} |`);
      continue;
    }
    L.push(
      `| ${a.server} | ${redisBroker ? 'Redis' : 'memory'} | ${f.int(a.publications_per_s)}${flags(a)} | ${f.int(a.replies_per_s)} | ${f.ms(a.p50_ms)} | ` +
        `${f.ms(a.p99_ms)} | ${f.n2(a.server_cpu_s)} | ${redisBroker ? f.n2(a.redis_cpu_s) : '–'} | ${f.int(a.msgs_per_cpu_s)} | ${f.int(perNodeCpu(a))} | ` +
        `${f.pct(a.server_cpu_pct)} | ${f.mib(a.rss_peak_kib)} | ${f.pct(a.client_cpu_pct)} | ${f.pct(a.bg_cpu0_pct)} | ${f.pct(a.bg_cpu1_pct)} | ${f.int(a.errors)} |`,
    );
  }
  L.push('');
  L.push(
    'Server CPU-s of the Redis row = the server process + redis-server (both on CPU 0); "without Redis" divides by the server process alone. ' +
      'The load generator (bench/history-load.mjs, Node) checks every reply by its bytes and every 25th in full; its CPU is the loadgen CPU column (‡ at ≥ 90 %).',
  );
  errorsAndSpread(L, cells, s, rows);
  L.push('');
}

/** "Reconnect storm": every client reconnects at once and recovers what it missed */
function stormSection(L, agg, s, meta, cells) {
  const rows = meta.servers.map((sv) => agg[s][sv]).filter(Boolean);
  if (rows.length === 0) return;
  const p = rows[0].params;
  L.push(`## ${s}: reconnect storm with recovery`);
  L.push('');
  L.push(describe(s, p));
  L.push('');
  L.push(
    '| server | clients | recovered | publications recovered | s until all recovered | ÷ socketio | p50 ms | p99 ms | max ms | server CPU-s | ' +
      'recoveries per CPU-s | ÷ socketio | server CPU | RSS before MiB | peak RSS MiB | loadgen CPU | bg CPU0 | bg CPU1 | load avg | errors |',
  );
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const a of rows) {
    if (a.status !== 'ok') {
      L.push(`| ${a.server} | ${a.status} | | | | | | | | | | | | | | | | | | ${a.reason ?? ''} |`);
      continue;
    }
    const load = median(cells.filter((c) => c.scenario === s && c.server === a.server).map((c) => c.loadavg_start?.[0]));
    L.push(
      `| ${a.server} | ${f.int(a.storm_clients)} | ${f.int(a.recovered)} | ${f.int(a.recovered_publications)} | ${f.n2(a.storm_s)}${flags(a)} | ` +
        `${f.ratio(ratio(agg, s, a.server, RT_BASE))} | ${f.ms(a.p50_ms)} | ${f.ms(a.p99_ms)} | ${f.ms(a.max_ms)} | ${f.n2(a.server_cpu_s)} | ` +
        `${f.int(a.recovered_per_cpu_s)} | ${f.ratio(ratio(agg, s, a.server, RT_BASE, 'recovered_per_cpu_s'))} | ${f.pct(a.server_cpu_pct)} | ` +
        `${f.mib(a.rss_before_kib)} | ${f.mib(a.rss_peak_kib)} | ${f.pct(a.client_cpu_pct)} | ${f.pct(a.bg_cpu0_pct)} | ${f.pct(a.bg_cpu1_pct)} | ` +
        `${f.n2(load)} | ${f.int(a.errors)} |`,
    );
  }
  L.push('');
  L.push(
    '"s until all recovered" runs from the first reconnection\'s `connect()` to the last client\'s check of its last recovered publication ' +
      '(lower is better; its ÷ socketio is the time ratio, below 1 = faster); p50/p99/max per client from the storm\'s start to its recovery ' +
      `(${p.pending} reconnections in progress at a time: the wait for a turn is included). ` +
      'Server CPU-s covers that window; recoveries per CPU-s = clients recovered ÷ server CPU-s. Peak RSS (VmHWM) spans the whole cell, ' +
      'the first connections included. Load avg: the 1-minute load average when the cell started.',
  );
  errorsAndSpread(L, cells, s, rows);
  L.push('');
}

/** the cluster's single-node counterpart */
const SINGLE_NODE = {
  'switchboard-rt-cluster': 'switchboard-rt',
  'socketio-cluster': 'socketio',
  'switchboard-rt-cluster-rc': 'switchboard-rt',
  'socketio-cluster-rc': 'socketio',
};

/** "Scale-out": the cluster servers against the single-node ones on the same fan-out, and against each other */
function scaleOutSection(L, agg, s, meta, cells) {
  const rows = meta.servers.map((sv) => agg[s][sv]).filter(Boolean);
  const p = rows[0].params;
  const v = meta.machine.versions ?? {};
  L.push(`## Scale-out: ${p.nodes} nodes through Redis`);
  L.push('');
  L.push(`${s}: ${describe(s, p)}`);
  L.push('');
  L.push(
    `Each -cluster server is a node:cluster primary and ${p.nodes} workers behind one port, with round-robin scheduling: the ` +
      'primary accepts each connection and hands it to the workers in turn (the next one that is free), so the load generator\'s ' +
      'connections spread over the workers without its help (connections per worker below). The workers are joined through one redis-server ' +
      `(Redis ${meta.redis?.version ?? '?'}) that the driver starts on a free port and flushes before each cell: ` +
      '`switchboard-rt-cluster` through `RedisBroker` (a Lua script per publication, fanned out with SPUBLISH), ' +
      `\`socketio-cluster\` through @socket.io/redis-adapter ${v['@socket.io/redis-adapter'] ?? '?'} over ioredis ${v.ioredis ?? '?'} ` +
      '(PUBLISH), with no sticky sessions (WebSocket transport only: a session is one connection, which stays on its worker). ' +
      `The -rc servers are the same two on a Redis Cluster of ${REDIS_CLUSTER_MASTERS} masters (no replicas) that the driver creates with ` +
      'redis-cli and flushes before each cell: each worker is given one node\'s URL (Switchboard\'s broker detects the cluster and ' +
      'SSUBSCRIBEs on the master of the channel\'s slot; Socket.IO\'s adapter runs over an ioredis Cluster, whose PUBLISH reaches every node); ' +
      'their Redis CPU-s and RSS are those of all the masters. ' +
      'The single-node servers carry the same load alone, without Redis: the baseline.',
  );
  L.push('');
  L.push(
    `Pinning: ${meta.pinned ? 'the primary, its workers and redis-server all on CPU 0, the load generator on CPU 1' : 'none (--no-pin)'}. ` +
      'The cluster gets the single node\'s one core, so these rows measure what a delivery costs when it goes through ' +
      'Redis and three processes, not the throughput of three machines; deliveries per CPU-s is the figure that carries over. ' +
      'Server CPU-s = primary + workers + redis-server (also shown without Redis).',
  );
  L.push('');
  L.push(
    '| server | nodes | deliveries/s | publications/s | p50 ms | p99 ms | server CPU-s | of it Redis | deliveries per CPU-s | ' +
      'without Redis | server CPU | Redis CPU | peak RSS MiB | Redis RSS MiB | loadgen CPU | bg CPU0 | bg CPU1 | errors |',
  );
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const a of rows) {
    if (a.status !== 'ok') {
      L.push(`| ${a.server} | ${a.status} | | | | | | | | | | | | | | | | ${a.reason ?? ''} |`);
      continue;
    }
    const cl = isClusterServer(a.server);
    L.push(
      `| ${a.server} | ${cl ? f.int(a.nodes) : 1} | ${f.int(a.deliveries_per_s)}${flags(a)} | ${f.int(a.publications_per_s)} | ` +
        `${f.ms(a.p50_ms)} | ${f.ms(a.p99_ms)} | ${f.n2(a.server_cpu_s)} | ${cl ? f.n2(a.redis_cpu_s) : '–'} | ` +
        `${f.int(a.msgs_per_cpu_s)} | ${f.int(perNodeCpu(a))} | ${f.pct(a.server_cpu_pct)} | ${cl ? f.pct(a.redis_cpu_pct) : '–'} | ` +
        `${f.mib(a.rss_peak_kib)} | ${cl ? f.mib(a.redis_rss_kib) : '–'} | ${f.pct(a.client_cpu_pct)} | ${f.pct(a.bg_cpu0_pct)} | ` +
        `${f.pct(a.bg_cpu1_pct)} | ${f.int(a.errors)} |`,
    );
  }
  L.push('');
  const pairs = [];
  for (const [c, single] of Object.entries(SINGLE_NODE)) pairs.push([c, single, `${p.nodes} nodes vs 1`]);
  pairs.push(['switchboard-rt-cluster', 'socketio-cluster', `Switchboard vs Socket.IO, ${p.nodes} nodes`]);
  pairs.push(['switchboard-rt-cluster-rc', 'socketio-cluster-rc', `Switchboard vs Socket.IO, ${p.nodes} nodes on a Redis Cluster`]);
  pairs.push(['switchboard-rt-cluster-rc', 'socketio-cluster', `Switchboard on a Redis Cluster vs Socket.IO on one Redis, ${p.nodes} nodes`]);
  pairs.push(['switchboard-rt-cluster-rc', 'switchboard-rt-cluster', 'Switchboard: Redis Cluster vs one Redis']);
  pairs.push(['switchboard-rt', 'socketio', 'Switchboard vs Socket.IO, 1 node']);
  const shown = pairs.filter(([x, y]) => agg[s][x] && agg[s][y]);
  if (shown.length) {
    L.push('| ratio | | deliveries/s | deliveries per CPU-s | without Redis |');
    L.push('|---|---|---:|---:|---:|');
    for (const [x, y, what] of shown) {
      const a = agg[s][x];
      const b = agg[s][y];
      const ok = a.status === 'ok' && b.status === 'ok';
      const r = (fa, fb) => f.ratio(ok ? fa / fb : NaN);
      L.push(
        `| ${x} ÷ ${y} | ${what} | ${r(a.deliveries_per_s, b.deliveries_per_s)} | ${r(a.msgs_per_cpu_s, b.msgs_per_cpu_s)} | ` +
          `${r(perNodeCpu(a), perNodeCpu(b))} |`,
      );
    }
    L.push('');
  }
  const split = cells.filter((c) => c.scenario === s && c.status === 'ok' && c.worker_conns);
  if (split.length) {
    L.push(
      'Per process: connections per worker (its open descriptors at the window start less those before the load) and CPU-s in the window.',
    );
    L.push('');
    L.push('| server | connections per worker | CPU-s primary | CPU-s per worker | CPU-s Redis |');
    L.push('|---|---:|---:|---:|---:|');
    for (const c of split) {
      const pc = c.process_cpu_s;
      L.push(
        `| ${c.server}${meta.runs > 1 ? ` run ${c.run}` : ''} | ${c.worker_conns.join(' / ')} | ${f.n2(pc?.primary)} | ` +
          `${pc ? pc.workers.map(f.n2).join(' / ') : '–'} | ${f.n2(c.redis_cpu_s)} |`,
      );
    }
    L.push('');
  }
  errorsAndSpread(L, cells, s, rows);
  if (L[L.length - 1] !== '') L.push('');
}

/** deliveries per CPU-s of the server processes without Redis (a single node has none) */
function perNodeCpu(a) {
  return Number.isFinite(a.msgs_per_node_cpu_s) ? a.msgs_per_node_cpu_s : a.msgs_per_cpu_s;
}

/** the table of a real-time scenario: ratios against Socket.IO, throughput and per CPU-s */
function rtDetails(L, agg, s, p, rows) {
  const h = HEADLINE[p.mode];
  const unit = h.label.replace('/s', '');
  const pubs = p.mode === 'fanout';
  L.push(
    `| server | ${h.label} | ÷ ${RT_BASE} |${pubs ? ' publications/s |' : ''} p50 ms | p99 ms | server CPU-s | ${unit} per CPU-s | ÷ ${RT_BASE} | ` +
      'server CPU | peak RSS MiB | loadgen CPU | bg CPU0 | bg CPU1 | errors |',
  );
  L.push(`|---|---:|---:|${pubs ? '---:|' : ''}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const a of rows) {
    if (a.status !== 'ok') {
      L.push(`| ${a.server} | ${a.status} | |${pubs ? ' |' : ''} | | | | | | | | | | ${a.reason ?? ''} |`);
      continue;
    }
    L.push(
      `| ${a.server} | ${f.int(a[h.key])}${flags(a)} | ${f.ratio(ratio(agg, s, a.server, RT_BASE))} |${pubs ? ` ${f.int(a.publications_per_s)} |` : ''} ` +
        `${f.ms(a.p50_ms)} | ${f.ms(a.p99_ms)} | ${f.n2(a.server_cpu_s)} | ${f.int(a.msgs_per_cpu_s)} | ` +
        `${f.ratio(ratio(agg, s, a.server, RT_BASE, 'msgs_per_cpu_s'))} | ${f.pct(a.server_cpu_pct)} | ${f.mib(a.rss_peak_kib)} | ` +
        `${f.pct(a.client_cpu_pct)} | ${f.pct(a.bg_cpu0_pct)} | ${f.pct(a.bg_cpu1_pct)} | ${f.int(a.errors)} |`,
    );
  }
}

function describe(s, p) {
  const lg = p.loadgens > 1 ? ` Load generator: ${p.loadgens} processes (\`loadgen --procs ${p.loadgens}\`), the connections split between them.` : '';
  return describeLoad(s, p) + lg;
}

function describeLoad(s, p) {
  const kib = (n) => (n >= 1048576 ? `${n / 1048576} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`);
  switch (p.mode) {
    case 'echo':
      return `${p.conns} connections × ${p.window} message${p.window > 1 ? 's' : ''} in flight, ${kib(p.size)} ${p.payload === 'json' ? 'JSON-like ' : ''}${p.type}${p.deflate ? ', permessage-deflate' : ''}; echo.`;
    case 'broadcast':
      return `${p.conns} receivers + 1 sender; the sender keeps ${p.window} broadcasts of ${kib(p.size)} outstanding (until every client has it); each is delivered to all ${p.conns + 1} clients.`;
    case 'idle':
      return `${p.conns} connections opened and held ${p.hold} s${p.clamped ? ` (${p.clamped})` : ''}; KiB/conn = (RSS held − RSS before) ÷ connections held.`;
    case 'connect':
      return `${p.conns} parallel loops of connect → handshake → close handshake → TCP close.`;
    case 'fanout':
      return (
        `${p.conns} subscribers of one channel + 1 publisher (not subscribed); the publisher keeps ${p.window} publications ` +
        `of a ${kib(p.size)} payload outstanding (until every subscriber has it); each is delivered to all ${p.conns} subscribers, ` +
        'checked for content and order on each.' +
        (p.nodes !== undefined ? ` The -cluster servers run ${p.nodes} nodes through Redis behind one port; the single-node servers run it alone.` : '')
      );
    case 'rpc':
      return `${p.conns} connections × ${p.window} request${p.window > 1 ? 's' : ''} in flight, ${kib(p.size)} payload; the server's \`echo\` returns it, every reply is checked against its request.`;
    case 'storm':
      return (
        `${p.conns} clients${p.clamped ? ` (${p.clamped})` : ''} + 1 publisher. Each client connects with its own JWT (HS256), subscribes to one channel and ` +
        `receives one publication, then all close; the publisher publishes ${p.recover} more (${kib(p.size)} payloads, acknowledged). Then every client ` +
        `reconnects at once with its JWT and resumes (Switchboard: \`connect\` + \`subscribe\` with \`since\` its position; Socket.IO: the CONNECT auth ` +
        `payload with its session's \`pid\` and \`offset\`, connection state recovery) and must recover exactly the ${p.recover} publications it missed, ` +
        'in order, each checked byte for byte.'
      );
    case 'history':
      return (
        `A channel whose history holds ${p.entries} publications of ${kib(p.size)} (filled by the server before the run); ${p.conns} connections × ` +
        `${p.window} \`history\` request${p.window > 1 ? 's' : ''} in flight, each walking the history from start to end in pages of ${p.page} ` +
        '(`since` the last offset, a page cut short by the reply budget continued where it stopped). Headline: publications received per second.'
      );
    default:
      return '';
  }
}

// --------------------------------------------------------------------- SVG

const COLORS = { switchboard: '#2563eb', ws: '#6b7280', 'ws+native': '#9ca3af', uws: '#d97706', 'raw-tcp': '#059669', 'node-tcp': '#10b981', 'node-floor': '#7c3aed', 'switchboard-rt': '#2563eb', socketio: '#6b7280' };

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

/** Ratios against `base` (ws for the WebSocket scenarios, Socket.IO for the real-time ones); null when nothing to draw. */
function buildSvg(data, realtime = false) {
  const agg = aggregate(data.cells);
  const base = realtime ? RT_BASE : 'ws';
  // the scale-out scenario and its cluster servers have their own section, and no chart
  const scenarios = data.meta.scenarios.filter(
    (s) => agg[s] && isRealtimeScenario(s) === realtime && !isScaleOutScenario(s) && !isHistoryScenario(s) && !isStormScenario(s),
  );
  const servers = data.meta.servers.filter((s) => s !== base && isRealtimeServer(s) === realtime && !isClusterServer(s) && !isRedisServer(s));
  if (scenarios.length === 0) return null;
  // higher is better everywhere: idle is plotted as ws memory ÷ server memory
  const value = (s, sv) => {
    const r = ratio(agg, s, sv, base);
    return SCENARIOS[s].mode === 'idle' ? 1 / r : r;
  };
  const vals = [];
  for (const s of scenarios) for (const sv of servers) if (agg[s][sv]) vals.push(value(s, sv));
  const finite = vals.filter((v) => Number.isFinite(v) && v > 0);
  let lo = Math.min(0.5, ...finite);
  let hi = Math.max(2, ...finite);
  lo = 2 ** Math.floor(Math.log2(lo * 0.75)); // room for the value labels
  hi = 2 ** Math.ceil(Math.log2(hi * 1.3));
  const W = 920;
  const left = 190;
  const right = W - 80;
  const x = (v) => left + ((Math.log2(v) - Math.log2(lo)) / (Math.log2(hi) - Math.log2(lo))) * (right - left);
  const barH = 14;
  const gap = 4;
  const top = 78;
  const rowsPer = scenarios.map((s) => servers.filter((sv) => agg[s][sv]).length);
  const H = top + rowsPer.reduce((a, n) => a + 26 + n * (barH + gap), 0) + 40;
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Relative to ${esc(base)} (= 1×), log scale: right of the line is better</text>`);
  const what = realtime ? 'throughput ratio' : "throughput ratio (idle: ws memory per connection ÷ the server's)";
  o.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#444">${esc(`${what}; ${data.meta.runs} run(s), ${data.meta.duration} s windows; ${data.meta.machine.nproc} CPUs, ${data.meta.machine.cpu_model}, Node ${data.meta.machine.node}`)}</text>`);
  // legend
  let lx = left;
  for (const sv of servers) {
    o.push(`<rect x="${lx}" y="50" width="12" height="12" fill="${COLORS[sv] ?? '#333'}"/><text x="${lx + 16}" y="60">${esc(sv)}</text>`);
    lx += 24 + sv.length * 7 + 20;
  }
  // grid
  const gridBottom = H - 30;
  for (let v = lo; v <= hi * 1.0001; v *= 2) {
    const gx = x(v).toFixed(1);
    const isOne = Math.abs(v - 1) < 1e-9;
    o.push(`<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${gridBottom}" stroke="${isOne ? '#111' : '#ddd'}" stroke-width="${isOne ? 1.5 : 1}"/>`);
    const label = v >= 1 ? `${v}×` : `1/${1 / v}×`;
    o.push(`<text x="${gx}" y="${gridBottom + 16}" text-anchor="middle" fill="#555">${label}</text>`);
  }
  let y = top;
  for (const s of scenarios) {
    o.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(s)}</text>`);
    const unit = SCENARIOS[s].mode === 'idle' ? 'less memory/conn' : HEADLINE[SCENARIOS[s].mode].label;
    o.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end" fill="#666">${esc(unit)}</text>`);
    y += 20;
    for (const sv of servers) {
      const a = agg[s][sv];
      if (!a) continue;
      const v = value(s, sv);
      o.push(`<text x="${left - 8}" y="${y + barH - 3}" text-anchor="end">${esc(sv)}</text>`);
      if (Number.isFinite(v) && v > 0) {
        const x1 = x(1);
        const x2 = x(Math.min(Math.max(v, lo), hi));
        const bx = Math.min(x1, x2);
        const bw = Math.max(1, Math.abs(x2 - x1));
        o.push(`<rect x="${bx.toFixed(1)}" y="${y}" width="${bw.toFixed(1)}" height="${barH}" fill="${COLORS[sv] ?? '#333'}"/>`);
        const tx = v >= 1 ? x2 + 4 : x2 - 4;
        o.push(`<text x="${tx.toFixed(1)}" y="${y + barH - 3}" text-anchor="${v >= 1 ? 'start' : 'end'}">${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×${esc(flags(a))}</text>`);
      } else {
        o.push(`<text x="${(x(1) + 4).toFixed(1)}" y="${y + barH - 3}" fill="#888">${esc(a.status === 'ok' ? '–' : a.status)}</text>`);
      }
      y += barH + gap;
    }
    y += 6;
  }
  o.push('</svg>');
  return o.join('\n') + '\n';
}

// -------------------------------------------------------------------- docs

function writeDocs(dir, data, report, svg, rtSvg) {
  const docs = path.join(ROOT, 'docs');
  const sub = path.join(docs, 'benchmarks');
  fs.mkdirSync(sub, { recursive: true });
  fs.writeFileSync(path.join(sub, 'results.json'), JSON.stringify(data, null, 1) + '\n');
  const written = ['docs/benchmarks.md', 'docs/benchmarks/results.json'];
  if (svg) {
    fs.writeFileSync(path.join(sub, 'ratios.svg'), svg);
    written.push('docs/benchmarks/ratios.svg');
  }
  if (rtSvg) {
    fs.writeFileSync(path.join(sub, 'ratios-realtime.svg'), rtSvg);
    written.push('docs/benchmarks/ratios-realtime.svg');
  }
  const body = report.replace(/^# Switchboard benchmarks\n/, '');
  const md = [
    '# Benchmarks',
    '',
    'Switchboard\'s server against `ws` (pure JS and with its native add-ons), uWebSockets.js and a raw TCP echo, ',
    ...(rtSvg ? ['and its real-time layer against Socket.IO, '] : []),
    'driven by the project\'s own load generator (`bench/loadgen`, C, epoll). How to run them, what is measured and the ',
    'caveats: [bench/README.md](../bench/README.md). Raw data: [benchmarks/results.json](benchmarks/results.json).',
    '',
    'These figures come from a shared 2-core machine (one core for the server, one for the load generator, other',
    'users present: see the bg CPU0 / bg CPU1 columns and the § marks) and are indicative, not publication numbers.',
    '',
    ...(svg ? ['![ratios against ws](benchmarks/ratios.svg)', ''] : []),
    ...(rtSvg ? ['![real-time ratios against Socket.IO](benchmarks/ratios-realtime.svg)', ''] : []),
    body.trimStart(),
  ].join('\n');
  fs.writeFileSync(path.join(docs, 'benchmarks.md'), md);
  console.error(`bench: wrote ${written.join(', ')} (from ${path.relative(ROOT, dir)})`);
}

function emit(dir, data, opts) {
  const report = buildReport(data);
  const svg = buildSvg(data);
  const rtSvg = buildSvg(data, true);
  const files = ['results.json', 'report.md'];
  fs.writeFileSync(path.join(dir, 'report.md'), report);
  if (svg) {
    fs.writeFileSync(path.join(dir, 'ratios.svg'), svg);
    files.push('ratios.svg');
  }
  if (rtSvg) {
    fs.writeFileSync(path.join(dir, 'ratios-realtime.svg'), rtSvg);
    files.push('ratios-realtime.svg');
  }
  console.log(report);
  console.error(`bench: results in ${path.relative(process.cwd(), dir) || dir}/ (${files.join(', ')})`);
  if (opts.writeDocs) writeDocs(dir, data, report, svg, rtSvg);
}

// -------------------------------------------------------------------- HTTP/2

/** HTTP/2 section sizes: the full run's, and --quick's. */
const HTTP2_SIZES = { full: { conns: 1000, messages: 20000 }, quick: { conns: 200, messages: 4000 } };

/**
 * bench/http2.mjs: N WebSockets over one h2c connection (RFC 8441) against N
 * over their own TCP connections, Switchboard's client and server in two
 * processes (not pinned: the client forks the server). Returns its rows, or
 * { error } when it failed.
 */
function runHttp2(opts) {
  const size = opts.quick ? HTTP2_SIZES.quick : HTTP2_SIZES.full;
  const args = ['bench/http2.mjs', '--json', '--conns', String(size.conns), '--messages', String(size.messages)];
  const argv = [process.execPath, ...args];
  console.error(`bench: http2 (${size.conns} WebSockets over one h2c connection against one TCP connection each)`);
  const result = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  const line = result.stdout?.trim().split('\n').at(-1) ?? '';
  try {
    return { command: `node ${args.join(' ')}`, ...JSON.parse(line) };
  } catch {
    return { command: `node ${args.join(' ')}`, error: `exit ${result.status}: ${(result.stderr ?? '').slice(-500)}` };
  }
}

/** The report's HTTP/2 section (empty when the run had none). */
function http2Section(http2) {
  if (http2 === undefined) return [];
  const L = ['## WebSockets over one HTTP/2 connection (RFC 8441)', ''];
  if (http2.error !== undefined) return [...L, `\`${http2.command}\` failed: ${http2.error}`, ''];
  L.push(
    `\`${http2.command}\` (Node ${http2.node}): ${http2.conns} WebSockets opened at once, then ${http2.messages} messages of 1 KiB echoed ` +
      'across them; Switchboard\'s client and server in separate processes, not pinned. Memory is the server\'s, after GC, per open WebSocket.',
  );
  L.push('');
  const columns = Object.keys(http2.rows[0] ?? {});
  L.push(`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`);
  for (const row of http2.rows) L.push(`| ${columns.map((column) => row[column]).join(' | ')} |`);
  L.push('');
  return L;
}

// -------------------------------------------------------------------- main

async function main() {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  if (opts.list) {
    for (const [k, v] of Object.entries(SERVERS)) console.log(`server   ${k.padEnd(14)} ${v.note}`);
    for (const k of Object.keys(SCENARIOS)) console.log(`scenario ${k.padEnd(14)} ${describe(k, scenarioParams(k, opts))}`);
    return;
  }
  if (opts.report) {
    const data = JSON.parse(fs.readFileSync(path.join(opts.report, 'results.json'), 'utf8'));
    emit(opts.report, data, opts);
    return;
  }
  if (!fs.existsSync(LOADGEN)) fail('bench/loadgen/loadgen is missing: run `make -C bench/loadgen` (npm run bench does)');
  if (opts.servers.includes('switchboard') && !fs.existsSync(path.join(ROOT, 'dist/node/server-index.js')))
    fail('dist/ is missing: run `npm run build` (npm run bench does)');
  if (opts.dist && !fs.existsSync(path.join(opts.dist, 'realtime/server/index.js'))) fail(`--dist ${opts.dist}: no realtime/server/index.js there`);
  for (const sv of opts.servers) {
    const needs = SERVERS[sv].needs;
    if (!needs || fs.existsSync(opts.dist ? path.join(opts.dist, path.relative('dist', needs)) : path.join(ROOT, needs))) continue;
    if (opts.serversGiven) fail(`${sv} needs ${needs}: run \`npm run build\` (npm run bench does)`);
    console.error(`bench: skipping ${sv}: ${needs} is missing after the build`);
    opts.servers = opts.servers.filter((x) => x !== sv);
  }
  const needsRedis = (sv) => (isClusterServer(sv) && opts.scenarios.some(isScaleOutScenario)) || (isRedisServer(sv) && opts.scenarios.some(isHistoryScenario));
  const redisVer = opts.servers.some(needsRedis) ? redisVersion() : null;
  for (const sv of opts.servers.filter((x) => isRedisClusterServer(x) && needsRedis(x))) {
    const cli = spawnSync(REDIS_CLI, ['--version']);
    if (!cli.error && cli.status === 0) continue;
    if (opts.serversGiven) fail(`${sv} needs redis-cli (${REDIS_CLI}, or set REDIS_CLI) to create a Redis Cluster`);
    console.error(`bench: skipping ${sv}: no redis-cli at ${REDIS_CLI} (set REDIS_CLI)`);
    opts.servers = opts.servers.filter((x) => x !== sv);
  }
  for (const sv of opts.servers.filter((x) => isClusterServer(x) || isRedisServer(x))) {
    if (redisVer || !needsRedis(sv)) continue;
    if (opts.serversGiven) fail(`${sv} needs redis-server (${REDIS_BINARY}, or set REDIS_SERVER)`);
    console.error(`bench: skipping ${sv}: no redis-server at ${REDIS_BINARY} (set REDIS_SERVER)`);
    opts.servers = opts.servers.filter((x) => x !== sv);
  }
  const nproc = Number(spawnSync('nproc').stdout?.toString().trim()) || os.cpus().length;
  if (opts.pin && (nproc < 2 || spawnSync('taskset', ['-c', '0', 'true']).status !== 0)) {
    console.error('bench: taskset or a second CPU is missing: running unpinned');
    opts.pin = false;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const dir = opts.out ?? path.join(ROOT, 'bench', 'results', stamp);
  fs.mkdirSync(dir, { recursive: true });
  const meta = {
    command: `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`,
    machine: machineInfo(),
    servers: opts.servers,
    scenarios: opts.scenarios,
    runs: opts.runs,
    duration: opts.duration,
    warmup: opts.warmup,
    set: opts.set,
    pinned: opts.pin,
    ...(opts.dist ? { dist: opts.dist, dist_git: distCommit(opts.dist) } : {}),
    ...(redisVer ? { redis: { binary: REDIS_BINARY, version: redisVer } } : {}),
  };
  const data = { meta, cells: [] };
  const save = () => fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(data, null, 1) + '\n');
  const plan = [];
  for (let run = 1; run <= opts.runs; run++)
    for (const scenario of opts.scenarios)
      for (const server of opts.servers)
        if (applicable(server, scenarioParams(scenario, opts))) plan.push({ server, scenario, run });
  console.error(`bench: ${plan.length} cells → ${path.relative(process.cwd(), dir)}/`);
  const started = Date.now();
  for (const [i, { server, scenario, run }] of plan.entries()) {
    const cell = await runCell(server, scenario, run, opts);
    data.cells.push(cell);
    save();
    const h = HEADLINE[cell.params.mode];
    const head = cell.status === 'ok' ? `${h.label} ${f.n1(cell[h.key])}` : `${cell.status}: ${cell.reason ?? ''}`;
    const redisPart = cell.redis_cpu_pct !== undefined ? ` (redis ${f.pct(cell.redis_cpu_pct)})` : '';
    console.error(
      `[${i + 1}/${plan.length}] ${scenario} ${server} run ${run}: ${head}; server CPU ${f.pct(cell.server_cpu_pct)}${redisPart}, ` +
        `loadgen CPU ${f.pct(cell.client_cpu_pct)}, bg ${f.n2(cell.bg_cores)} cores, errors ${cell.errors ?? '–'} ` +
        `(${((Date.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  await stopRedis();
  await stopRedisCluster();
  if (opts.http2) {
    data.http2 = runHttp2(opts);
    save();
  }
  meta.loadavg_after = os.loadavg().map((x) => Math.round(x * 100) / 100);
  meta.elapsed_s = Math.round((Date.now() - started) / 1000);
  save();
  emit(dir, data, opts);
}

main().catch((e) => {
  console.error(e);
  for (const c of children) c.kill('SIGKILL');
  if (redis.dir) fs.rmSync(redis.dir, { recursive: true, force: true });
  if (redisCluster.dir) fs.rmSync(redisCluster.dir, { recursive: true, force: true });
  process.exit(1);
});
