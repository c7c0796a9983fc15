/**
 * `switchboard serve --workers N`: N processes behind one port with
 * node:cluster. The primary forks the workers and waits until each one
 * listens; a worker that dies later is forked again (after a delay that
 * grows while it keeps dying). A worker that cannot start fails the whole
 * command with the worker's reason. SIGINT/SIGTERM stop every worker
 * gracefully, then the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { UsageError } from './args.js';
import type { ServeSettings } from './serve-config.js';
import { startServe } from './serve-server.js';

/** Set in each worker's environment: its number, 1 … N. */
export const WORKER_ENV = 'SWITCHBOARD_SERVE_WORKER';
/** How long the primary waits for workers to stop before killing them (ms). */
const STOP_TIMEOUT = 10_000;
/** First delay before a dead worker is forked again (ms); it doubles while the worker keeps dying. */
const RESTART_DELAY = 500;
const MAX_RESTART_DELAY = 30_000;
/** A worker that ran this long (ms) before dying starts again after the first delay. */
const STABLE_AFTER = 60_000;

/** What a worker tells the primary. */
type WorkerReport = { type: 'listening'; port: number } | { type: 'failed'; message: string; code?: string; usage: boolean };

function isReport(value: unknown): value is WorkerReport {
  return typeof value === 'object' && value !== null && ((value as WorkerReport).type === 'listening' || (value as WorkerReport).type === 'failed');
}

function report(message: WorkerReport): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** A worker process: starts its server and reports to the primary. */
export async function runWorker(settings: ServeSettings): Promise<void> {
  const worker = Number(process.env[WORKER_ENV]);
  const log = (line: string): void => console.log(`[worker ${worker}] ${line}`);
  try {
    const server = await startServe(settings, { worker, log });
    await report({ type: 'listening', port: server.port });
    const stop = (): void => {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('disconnect', stop);
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    await report({ type: 'failed', message: failure.message, code: failure.code, usage: error instanceof UsageError });
    process.exit(1);
  }
}

/** The error a worker's failed start stands for, as main.ts prints it. */
function startError(failure: Extract<WorkerReport, { type: 'failed' }>): Error {
  if (failure.usage) return new UsageError(failure.message);
  const error: NodeJS.ErrnoException = new Error(failure.message);
  if (failure.code !== undefined) error.code = failure.code;
  return error;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  startedAt: number;
  restartDelay: number;
}

/** The primary's view of its workers. */
class WorkerPool {
  private readonly slots = new Map<number, Slot>();
  private stopping = false;
  /** A worker could not start: the command fails (main.ts prints why and exits). */
  private failed = false;
  private starting: { resolve(port: number): void; reject(error: Error): void } | null = null;
  private port = 0;

  constructor(
    private readonly settings: ServeSettings,
    private readonly log: (line: string) => void,
  ) {}

  /** Forks every worker; resolves with the port once all listen, rejects with the first failure. */
  start(): Promise<number> {
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
    const started = new Promise<number>((resolve, reject) => (this.starting = { resolve, reject }));
    for (let index = 1; index <= this.settings.workers; index++) this.fork(index, RESTART_DELAY);
    return started;
  }

  /** Stops every worker (SIGTERM, then SIGKILL after a while) and exits. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log('shutting down');
    for (const slot of this.slots.values()) slot.worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const slot of this.slots.values()) slot.worker.process.kill('SIGKILL');
      process.exit(1);
    }, STOP_TIMEOUT).unref();
    this.exitWhenEmpty();
  }

  private fork(index: number, restartDelay: number): void {
    const worker = cluster.fork({ [WORKER_ENV]: String(index) });
    const slot: Slot = { index, worker, ready: false, startedAt: Date.now(), restartDelay };
    this.slots.set(index, slot);
    worker.on('message', (message: unknown) => {
      if (isReport(message)) this.reported(slot, message);
    });
  }

  private reported(slot: Slot, message: WorkerReport): void {
    if (message.type === 'failed') {
      if (this.starting !== null) this.failStart(startError(message));
      else this.log(`worker ${slot.index} could not start: ${message.message}`);
      return;
    }
    slot.ready = true;
    this.port = message.port;
    if (this.starting !== null && [...this.slots.values()].every((each) => each.ready)) {
      this.starting.resolve(this.port);
      this.starting = null;
    }
  }

  private failStart(error: Error): void {
    const starting = this.starting!;
    this.starting = null;
    this.stopping = true;
    this.failed = true;
    for (const slot of this.slots.values()) slot.worker.process.kill('SIGTERM');
    starting.reject(error);
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const slot = [...this.slots.values()].find((each) => each.worker === worker);
    if (slot === undefined) return;
    this.slots.delete(slot.index);
    if (this.stopping) return this.exitWhenEmpty();
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    if (this.starting !== null) return this.failStart(new Error(`worker ${slot.index} exited (${how}) before listening`));
    const delay = Date.now() - slot.startedAt > STABLE_AFTER ? RESTART_DELAY : slot.restartDelay;
    this.log(`worker ${slot.index} (pid ${worker.process.pid}) exited (${how}); starting it again in ${delay} ms`);
    setTimeout(() => {
      if (!this.stopping) this.fork(slot.index, Math.min(MAX_RESTART_DELAY, delay * 2));
    }, delay);
  }

  private exitWhenEmpty(): void {
    if (this.stopping && !this.failed && this.slots.size === 0) process.exit(0);
  }
}

/**
 * The primary of `--workers N`: forks the workers, resolves with the port
 * once every one listens; keeps them running and stops them on a signal.
 */
export async function runPrimary(settings: ServeSettings, log: (line: string) => void): Promise<number> {
  const pool = new WorkerPool(settings, log);
  process.once('SIGINT', () => pool.stop());
  process.once('SIGTERM', () => pool.stop());
  return pool.start();
}
