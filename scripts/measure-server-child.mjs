#!/usr/bin/env node
// The server process of the measure-*.mjs scripts: createRealtimeServer from
// the dist/ of a given tree (this one, or an older build kept elsewhere), run
// as a child with an IPC channel (child_process.fork) so that what it costs is
// measured alone, in a fresh process.
//
//   MEASURE_SERVER='{"tree":"/path/to/tree","namespaces":{...},"limits":{...},
//                    "maxMessageSize":65536,"redisUrl":"redis://..."}'
//   node --expose-gc scripts/measure-server-child.mjs
//
// Sends {type:'ready', port} once listening (and its broker started); then
// answers IPC requests {id, op}:
//   op 'memory'      global.gc() (several times, with pauses), then process.memoryUsage()
//   op 'loop-start'  starts an event-loop delay histogram (1 ms resolution)
//   op 'loop-stop'   stops it; {max_ms, p99_ms, mean_ms}
//   op 'stop'        closes the server and exits
// Every server method `ping` returns 1.
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(process.env.MEASURE_SERVER ?? '{}');
const tree = path.resolve(config.tree ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'));
const realtime = await import(pathToFileURL(path.join(tree, 'dist/realtime/server/index.js')).href);

const server = realtime.createRealtimeServer({
  port: 0,
  host: '127.0.0.1',
  namespaces: config.namespaces ?? {},
  limits: config.limits ?? {},
  ...(config.maxMessageSize ? { maxMessageSize: config.maxMessageSize } : {}),
  ...(config.redisUrl ? { broker: new realtime.RedisBroker({ url: config.redisUrl, ...(config.redisPrefix ? { prefix: config.redisPrefix } : {}) }) } : {}),
});
server.method('ping', () => 1);
server.on('error', (error) => console.error('measure-server-child:', error?.message ?? error));
await server.ready();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Full collections with pauses between them, so that V8 can give freed pages back, then the figures. */
async function memory() {
  for (let i = 0; i < 4; i++) {
    global.gc?.();
    await sleep(250);
  }
  return process.memoryUsage();
}

let loop = null;
process.on('message', async (message) => {
  const { id, op } = message;
  try {
    let result = null;
    if (op === 'memory') result = await memory();
    else if (op === 'loop-start') {
      loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
    } else if (op === 'loop-stop') {
      loop?.disable();
      result = loop ? { max_ms: loop.max / 1e6, p99_ms: loop.percentile(99) / 1e6, mean_ms: loop.mean / 1e6 } : null;
      loop = null;
    } else if (op === 'stop') {
      await server.close();
      process.send({ id, result: null }, () => process.exit(0));
      return;
    } else throw new Error(`unknown op ${op}`);
    process.send({ id, result });
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) });
  }
});
process.send({ type: 'ready', port: server.port, pid: process.pid, tree });
