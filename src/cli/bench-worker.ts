/**
 * Entry point of a `switchboard bench --threads N` worker thread: runs one
 * share of the connections (`workerData` is its LoadConfig), reports its
 * counters every 250 ms and its result at the end, and stops early when told.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LoadRun, type LoadConfig, type WorkerCommand, type WorkerReport } from './bench-load.js';

const PROGRESS_INTERVAL_MS = 250;

function post(report: WorkerReport): void {
  parentPort?.postMessage(report);
}

async function runWorker(config: LoadConfig): Promise<void> {
  const run = new LoadRun(config);
  parentPort?.on('message', (command: WorkerCommand) => {
    if (command.type === 'stop') run.stop();
  });
  const ticker = setInterval(() => post({ type: 'progress', counters: { ...run.counters } }), PROGRESS_INTERVAL_MS);
  const result = await run.start();
  clearInterval(ticker);
  post({ type: 'result', result });
}

await runWorker(workerData as LoadConfig);
