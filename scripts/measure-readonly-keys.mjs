#!/usr/bin/env node
// Do reads create state? (issue 13, item 5)
//
//   node scripts/measure-readonly-keys.mjs [--trees /tmp/old,/work/main] [--conns 10]
//        [--seconds 10] [--rate 90] [--json]
//
// For each tree: a private redis-server on a free port (never 6379, flushed),
// a server of that tree's dist/ in a child process with RedisBroker, namespace
// `room` with history (size 100) and presence, the default rate limit (100
// commands/s per connection, burst 200). `conns` WebSocket connections (npm
// `ws`, subprotocol switchboard.v1.json, docs/protocol.md) each run, one
// command at a time and at most `rate` commands per second, the cycle
//   history {limit: 10} on a fresh random channel name,
//   subscribe + unsubscribe on another fresh name,
//   presence on a third,
// for `seconds` s — reads only, never a publish. Reported: commands answered
// (and refused), Redis keys (DBSIZE) at the end while the connections are
// open, and 2 s after they closed, with the TTL of a few of them.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { checkTree, machine, sleep, startRedis, startServer, treeLabel } from './measure-common.mjs';

const { values } = parseArgs({
  options: {
    trees: { type: 'string', default: '/work/main' },
    conns: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '90' },
    json: { type: 'boolean', default: false },
  },
});
const trees = values.trees.split(',').filter(Boolean).map(checkTree);
const conns = Number(values.conns);
const seconds = Number(values.seconds);
const rate = Number(values.rate);

/** A JSON-protocol connection: request(msg) resolves with the reply of its id. */
async function open(url) {
  const ws = new WebSocket(url, 'switchboard.v1.json', { perMessageDeflate: false });
  const pending = new Map();
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'ping') ws.send('{"type":"pong"}');
    else if (message.type === 'reply' && pending.has(message.id)) {
      pending.get(message.id)(message);
      pending.delete(message.id);
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 1;
  const request = (command) =>
    new Promise((resolve) => {
      const n = id++;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ ...command, id: n }));
    });
  const reply = await request({ type: 'connect' });
  if (!reply.result) throw new Error(`connect refused: ${JSON.stringify(reply.error)}`);
  return { ws, request };
}

const fresh = () => `room:r${randomBytes(8).toString('hex')}`;

async function runTree(tree) {
  const redis = await startRedis();
  const server = await startServer({
    tree,
    namespaces: { room: { history: { size: 100 }, presence: true } },
    redisUrl: redis.url,
  });
  try {
    const keysAtStart = await redis.command('DBSIZE');
    const connections = await Promise.all(Array.from({ length: conns }, () => open(server.url)));
    const counts = { ok: 0, refused: {} };
    const tally = (reply) => {
      if (reply.error) counts.refused[reply.error.code] = (counts.refused[reply.error.code] ?? 0) + 1;
      else counts.ok++;
    };
    const end = Date.now() + seconds * 1000;
    const interval = 1000 / rate;
    await Promise.all(
      connections.map(async ({ request }) => {
        let next = performance.now();
        const paced = async (command) => {
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
          next = Math.max(next + interval, performance.now() - interval);
          tally(await request(command));
        };
        while (Date.now() < end) {
          await paced({ type: 'history', channel: fresh(), limit: 10 });
          const channel = fresh();
          await paced({ type: 'subscribe', channel });
          await paced({ type: 'unsubscribe', channel });
          await paced({ type: 'presence', channel: fresh() });
        }
      }),
    );
    const keysOpen = await redis.command('DBSIZE');
    const [, sample] = await redis.command('SCAN', '0', 'COUNT', '1000');
    const ttls = [];
    for (const key of sample.slice(0, 5)) ttls.push({ key, pttl_ms: await redis.command('PTTL', key) });
    const kinds = {};
    for (const key of sample) {
      const kind = key.replace(/r[0-9a-f]{16}/, '*');
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    for (const { ws } of connections) ws.close();
    await sleep(2000);
    const keysClosed = await redis.command('DBSIZE');
    return {
      tree: treeLabel(tree),
      conns,
      seconds,
      commands_ok: counts.ok,
      commands_refused: counts.refused,
      keys_at_start: keysAtStart,
      keys_open: keysOpen,
      keys_after_close: keysClosed,
      key_kinds_in_a_scan_of_1000: kinds,
      sample_ttls: ttls,
    };
  } finally {
    await server.stop();
    await redis.stop();
  }
}

const started = machine();
const results = [];
for (const tree of trees) {
  const r = await runTree(tree);
  results.push(r);
  console.error(`${r.tree}: ${r.commands_ok} commands answered (refused ${JSON.stringify(r.commands_refused)}), keys ${r.keys_open} (open) / ${r.keys_after_close} (2 s after close); kinds ${JSON.stringify(r.key_kinds_in_a_scan_of_1000)}; ttls ${JSON.stringify(r.sample_ttls)}`);
}
if (values.json) console.log(JSON.stringify({ machine: { before: started, after: machine() }, results }, null, 1));
else {
  console.log(`load average before ${started.loadavg.join(' ')}, after ${machine().loadavg.join(' ')}; ${conns} connections × ${seconds} s, ≤ ${rate} commands/s each`);
  console.log('| tree | commands answered | refused | Redis keys (connections open) | keys 2 s after close | key kinds (scan of ≤ 1000) | TTL of a key |');
  console.log('|---|---:|---|---:|---:|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.tree} | ${r.commands_ok} | ${JSON.stringify(r.commands_refused)} | ${r.keys_open} | ${r.keys_after_close} | ` +
        `${Object.entries(r.key_kinds_in_a_scan_of_1000).map(([k, v]) => `${k} ×${v}`).join(', ') || '–'} | ` +
        `${r.sample_ttls.map((t) => `${(t.pttl_ms / 86400000).toFixed(2)} d`).join(', ') || '–'} |`,
    );
  }
}
