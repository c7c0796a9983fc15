// The node:cluster primary of the scale-out scenario (see bench/README.md):
// forks NODES workers (3 by default) of a single-node bench server, each joined
// to the others through Redis (REDIS_URL), all behind one port. Round-robin
// scheduling: the primary accepts every connection and hands it to the workers
// in turn (the next one that has taken its previous connection), so the load
// generator's connections spread over the workers without any help from it.
//
// Prints `ready <worker pids>` on stdout once every worker listens and has its
// Redis connections; on SIGTERM/SIGINT stops the workers and waits for them.
// A worker that dies before that stops the whole cluster (exit status 1).
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';

export function runClusterPrimary(name, workerScript) {
  const nodes = Number(process.env.NODES ?? 3);
  if (!process.env.REDIS_URL) {
    console.error(`${name}: REDIS_URL is required (the workers join through Redis)`);
    process.exit(2);
  }
  if (!Number.isInteger(nodes) || nodes < 1) {
    console.error(`${name}: NODES must be a positive integer`);
    process.exit(2);
  }
  cluster.schedulingPolicy = cluster.SCHED_RR; // the default on Linux, stated
  cluster.setupPrimary({ exec: fileURLToPath(workerScript) });

  const workers = [];
  let ready = 0;
  let stopping = false;

  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    const alive = workers.filter((w) => w.process.exitCode === null && w.process.signalCode === null);
    if (alive.length === 0) process.exit(code);
    let left = alive.length;
    for (const w of alive) {
      w.process.once('exit', () => {
        if (--left === 0) process.exit(code);
      });
      w.process.kill('SIGTERM');
    }
  };

  for (let i = 0; i < nodes; i++) {
    const worker = cluster.fork({ NODE_INDEX: String(i) });
    workers.push(worker);
    worker.on('message', (message) => {
      if (message === 'ready' && ++ready === nodes) console.log(`ready ${workers.map((w) => w.process.pid).join(' ')}`);
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      console.error(`${name}: worker ${worker.process.pid} exited (${signal ?? code})`);
      stop(1);
    });
  }
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => stop(0));
}
