/**
 * `switchboard serve --workers N`: N processes behind one port with
 * node:cluster. The primary forks the workers and waits until each one
 * listens; a worker that dies later is forked again (after a delay that
 * grows while it keeps dying). A worker that cannot start fails the whole
 * command with the worker's reason. SIGINT/SIGTERM stop every worker
 * gracefully, then the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { UsageError } from './args.js';
import type { ServeSettings } from './serve-config.js';
import { createLog, type LogFunction } from './serve-log.js';
import { startServe } from './serve-server.js';

/** Set in each worker's environment: its number, 1 … N. */
export const WORKER_ENV = 'SWITCHBOARD_SERVE_WORKER';
/** Set in each worker's environment when the settings have no `auth.guestSecret`: the primary's random one, so that every worker accepts the guest tokens of the others. */
export const GUEST_SECRET_ENV = 'SWITCHBOARD_SERVE_GUEST_SECRET';
/** How long the primary waits for workers to stop before killing them (ms). */
const STOP_TIMEOUT = 10_000;
/** First delay before a dead worker is forked again (ms); it doubles while the worker keeps dying. */
const RESTART_DELAY = 500;
const MAX_RESTART_DELAY = 30_000;
/** A worker that ran this long (ms) before dying starts again after the first delay. */
const STABLE_AFTER = 60_000;

/** What a worker tells the primary. */
type WorkerReport = { type: 'listening'; port: number; metricsPort?: number } | { type: 'failed'; message: string; code?: string; usage: boolean };

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
  const guestSecret = process.env[GUEST_SECRET_ENV];
  delete process.env[GUEST_SECRET_ENV];
  const log = createLog(`[worker ${worker}] `);
  try {
    const server = await startServe(settings, { worker, log, ...(guestSecret !== undefined && { guestSecret }) });
    const listening: WorkerReport = { type: 'listening', port: server.port };
    if (server.metricsPort !== undefined) listening.metricsPort = server.metricsPort;
    await report(listening);
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
  private starting: { resolve(ports: PrimaryPorts): void; reject(error: Error): void } | null = null;
  private ports: PrimaryPorts = { port: 0 };
  /** Shared with the workers unless the settings have one. */
  private readonly guestSecret = randomBytes(32).toString('base64url');

  constructor(
    private readonly settings: ServeSettings,
    private readonly log: LogFunction,
  ) {}

  /** Forks every worker; resolves with the ports once all listen, rejects with the first failure. */
  start(): Promise<PrimaryPorts> {
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
    const started = new Promise<PrimaryPorts>((resolve, reject) => (this.starting = { resolve, reject }));
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
    const env: Record<string, string> = { [WORKER_ENV]: String(index) };
    if (this.settings.auth.guestSecret === undefined) env[GUEST_SECRET_ENV] = this.guestSecret;
    const worker = cluster.fork(env);
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
    this.ports = { port: message.port };
    if (message.metricsPort !== undefined) this.ports.metricsPort = message.metricsPort;
    if (this.starting !== null && [...this.slots.values()].every((each) => each.ready)) {
      this.starting.resolve(this.ports);
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

/** The ports the workers listen on. */
export interface PrimaryPorts {
  port: number;
  metricsPort?: number;
}

/**
 * The primary of `--workers N`: forks the workers, resolves with the ports
 * once every one listens; keeps them running and stops them on a signal.
 */
export async function runPrimary(settings: ServeSettings, log: LogFunction): Promise<PrimaryPorts> {
  const pool = new WorkerPool(settings, log);
  process.once('SIGINT', () => pool.stop());
  process.once('SIGTERM', () => pool.stop());
  return pool.start();
}
