/**
 * The load generator behind `switchboard bench`: a set of client
 * connections to an echo server, each keeping a fixed number of messages in
 * flight, checking every echo against what it sent and timing it. It runs the
 * same on the main thread or in a worker thread (bench-worker.ts).
 */
import { WebSocket } from '../node/client.js';
import { explainConnectFailure } from './failure.js';
import { Histogram, type HistogramData } from './histogram.js';

/** What one load generator (one thread) does. */
export interface LoadConfig {
  url: string;
  /** Connections this generator opens. */
  connections: number;
  /** Number of this generator's first connection among all threads (payloads differ per connection). */
  firstConnection: number;
  /** Message size in bytes. */
  size: number;
  /** Messages are sent for this long; then the outstanding echoes are awaited. */
  durationMs: number;
  /** Messages each connection keeps outstanding. */
  inFlight: number;
  binary: boolean;
  protocols: string[];
  headers: Record<string, string>;
  /** Accept any TLS certificate. */
  insecure: boolean;
}

/** Running totals, as progress reports carry them. */
export interface LoadCounters {
  opened: number;
  failed: number;
  sent: number;
  received: number;
  mismatched: number;
  unexpectedCloses: number;
}

/** What a finished load generator reports. */
export interface LoadResult extends LoadCounters {
  /** Distinct error messages with how often each happened, most frequent first. */
  errors: Array<[message: string, count: number]>;
  latency: HistogramData;
  /** From the first connection attempt until the last echo was in (or given up on). */
  elapsedMs: number;
}

/** Messages from a worker thread to the main thread. */
export type WorkerReport = { type: 'progress'; counters: LoadCounters } | { type: 'result'; result: LoadResult };

/** Messages from the main thread to a worker thread. */
export type WorkerCommand = { type: 'stop' };

/** Connections in their opening handshake at once, at most (a burst of thousands would overflow listen backlogs). */
const MAX_CONNECTING = 200;
/** After the duration, wait this long for outstanding echoes. */
const DRAIN_MS = 2000;
/** Then this long for closing handshakes, before reporting anyway. */
const CLOSE_GRACE_MS = 1000;
/** Characters of the sequence number at the start of every message. */
const HEADER_CHARS = 8;

/** Zeroed counters. */
export function emptyCounters(): LoadCounters {
  return { opened: 0, failed: 0, sent: 0, received: 0, mismatched: 0, unexpectedCloses: 0 };
}

/** The message header for sequence number `seq`: its hex digits, cut to `size`. */
function header(seq: number, size: number): string {
  const digits = (seq >>> 0).toString(16).padStart(HEADER_CHARS, '0');
  return digits.slice(HEADER_CHARS - Math.min(size, HEADER_CHARS));
}

/** Letters that fill a message after its header, different for each connection. */
function filler(connection: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = 97 + ((connection * 7 + i) % 26);
  return bytes;
}

/** How an echo differs from the message sent; null when it is the same. */
function compareEcho(data: unknown, sentHeader: string, tail: Buffer, tailText: string, binary: boolean, size: number): string | null {
  if (binary) {
    if (!Buffer.isBuffer(data)) return 'a text echo of a binary message';
    if (data.length !== size) return `an echo of ${data.length} bytes for a message of ${size}`;
    if (data.toString('latin1', 0, sentHeader.length) !== sentHeader) return 'an echo out of order or of another message';
    return data.compare(tail, 0, tail.length, sentHeader.length, size) === 0 ? null : 'an echo with different bytes';
  }
  if (typeof data !== 'string') return 'a binary echo of a text message';
  if (data.length !== size) return `an echo of ${Buffer.byteLength(data)} bytes for a message of ${size}`;
  if (!data.startsWith(sentHeader)) return 'an echo out of order or of another message';
  return data.endsWith(tailText) ? null : 'an echo with different bytes';
}

/** One connection of the load: sends, checks echoes, keeps `inFlight` outstanding. */
class BenchConnection {
  readonly #run: LoadRun;
  readonly #config: LoadConfig;
  readonly #ws: WebSocket;
  readonly #sentAt: Float64Array;
  readonly #tail: Buffer;
  readonly #tailText: string;
  #nextSeq = 0;
  #nextEcho = 0;
  #opened = false;
  #closing = false;
  #closed = false;
  #lastError: unknown = null;

  constructor(run: LoadRun, config: LoadConfig, index: number) {
    this.#run = run;
    this.#config = config;
    this.#sentAt = new Float64Array(config.inFlight);
    this.#tail = filler(index, Math.max(0, config.size - HEADER_CHARS));
    this.#tailText = this.#tail.toString('latin1');
    this.#ws = new WebSocket(config.url, config.protocols, {
      headers: config.headers,
      tls: config.insecure ? { rejectUnauthorized: false } : undefined,
      perMessageDeflate: false,
      closeTimeout: CLOSE_GRACE_MS,
    });
    this.#ws.binaryType = 'nodebuffer';
    this.#ws.addEventListener('open', () => this.#onOpen());
    this.#ws.addEventListener('message', (event) => this.#onMessage(event.data));
    this.#ws.addEventListener('error', (event) => {
      this.#lastError = event.error;
    });
    this.#ws.addEventListener('close', (event) => this.#onClose(event.code, event.reason));
  }

  get outstanding(): number {
    return this.#nextSeq - this.#nextEcho;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops sending; closes now if no echo is outstanding, else after the last one. */
  finish(): void {
    if (this.#opened && this.outstanding === 0) this.close();
  }

  /** Closes with 1000 (or gives up connecting). */
  close(): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#ws.close(1000);
  }

  #onOpen(): void {
    this.#opened = true;
    this.#run.connectionOpened();
    if (!this.#run.running) {
      this.close();
      return;
    }
    for (let i = 0; i < this.#config.inFlight; i++) this.#send();
  }

  #send(): void {
    const seq = this.#nextSeq++;
    const { size, binary } = this.#config;
    this.#sentAt[seq % this.#config.inFlight] = performance.now();
    const head = header(seq, size);
    if (binary) {
      const bytes = Buffer.allocUnsafe(size);
      bytes.write(head, 0, 'latin1');
      this.#tail.copy(bytes, head.length);
      this.#ws.send(bytes);
    } else {
      this.#ws.send(head + this.#tailText);
    }
    this.#run.counters.sent += 1;
  }

  #onMessage(data: unknown): void {
    if (this.outstanding === 0) {
      this.#run.unexpectedMessage('a message that was never sent (is it a plain echo server?)');
      return;
    }
    const seq = this.#nextEcho++;
    const latencyMicros = (performance.now() - this.#sentAt[seq % this.#config.inFlight]!) * 1000;
    const { size, binary } = this.#config;
    this.#run.echoReceived(latencyMicros, compareEcho(data, header(seq, size), this.#tail, this.#tailText, binary, size));
    if (this.#run.running) this.#send();
    else if (this.outstanding === 0) this.close();
  }

  #onClose(code: number, reason: string): void {
    this.#closed = true;
    if (!this.#opened) {
      this.#run.connectionFailed(explainConnectFailure(this.#lastError ?? new Error('the connection failed'), new URL(this.#config.url)));
    } else if (!this.#closing) {
      const cause = this.#lastError instanceof Error ? `: ${this.#lastError.message}` : reason !== '' ? ` ${reason}` : '';
      this.#run.connectionLost(`the server closed a connection (${code}${cause})`);
    }
    this.#run.connectionClosed();
  }
}

/** One load generator: opens the connections, runs for the duration, then drains and reports. */
export class LoadRun {
  readonly counters: LoadCounters = emptyCounters();
  readonly #config: LoadConfig;
  readonly #latency = new Histogram();
  readonly #errors = new Map<string, number>();
  readonly #connections: BenchConnection[] = [];
  #running = true;
  #launched = 0;
  #connecting = 0;
  #closedCount = 0;
  #startedAt = 0;
  #settledAt: number | null = null;
  #timers: NodeJS.Timeout[] = [];
  #done: ((result: LoadResult) => void) | null = null;

  constructor(config: LoadConfig) {
    this.#config = config;
  }

  /** True until the duration is over (or `stop()`). */
  get running(): boolean {
    return this.#running;
  }

  /** Opens the connections and runs the load; resolves with the result once every echo is in or given up on. */
  start(): Promise<LoadResult> {
    this.#startedAt = performance.now();
    const result = new Promise<LoadResult>((resolve) => {
      this.#done = resolve;
    });
    this.#timers.push(setTimeout(() => this.stop(), this.#config.durationMs));
    this.#launchMore();
    return result;
  }

  /** Ends the sending phase now (the duration is over, Ctrl-C, or every connection is gone). */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    for (const connection of this.#connections) connection.finish();
    this.#timers.push(setTimeout(() => this.#giveUpDraining(), DRAIN_MS));
    this.#checkSettled();
  }

  /** @internal A connection completed its handshake. */
  connectionOpened(): void {
    this.counters.opened += 1;
    this.#connecting -= 1;
    this.#launchMore();
  }

  /** @internal A connection could not be opened. */
  connectionFailed(message: string): void {
    this.counters.failed += 1;
    this.#connecting -= 1;
    this.#tally(message);
    this.#launchMore();
  }

  /** @internal An open connection ended without this side closing it. */
  connectionLost(message: string): void {
    this.counters.unexpectedCloses += 1;
    this.#tally(message);
  }

  /** @internal A connection is closed, for whatever reason. */
  connectionClosed(): void {
    this.#closedCount += 1;
    if (this.#running && this.#launched === this.#config.connections && this.#closedCount === this.#launched) this.stop();
    else this.#checkSettled();
  }

  /** @internal An echo arrived after `latencyMicros`; `mismatch` says how it differs from the message sent, if it does. */
  echoReceived(latencyMicros: number, mismatch: string | null): void {
    this.counters.received += 1;
    this.#latency.record(latencyMicros);
    if (mismatch !== null) {
      this.counters.mismatched += 1;
      this.#tally(`echo mismatch: ${mismatch}`);
    }
    if (!this.#running) this.#checkSettled();
  }

  /** @internal A message arrived while no echo was outstanding. */
  unexpectedMessage(message: string): void {
    this.counters.mismatched += 1;
    this.#tally(`echo mismatch: ${message}`);
  }

  #launchMore(): void {
    while (this.#running && this.#launched < this.#config.connections && this.#connecting < MAX_CONNECTING) {
      const index = this.#config.firstConnection + this.#launched;
      this.#launched += 1;
      this.#connecting += 1;
      this.#connections.push(new BenchConnection(this, this.#config, index));
    }
  }

  #tally(message: string): void {
    this.#errors.set(message, (this.#errors.get(message) ?? 0) + 1);
  }

  /** After the duration: the load is settled once no echo is outstanding; report once all connections closed. */
  #checkSettled(): void {
    if (this.#running) return;
    const waiting = this.#connections.some((connection) => !connection.closed && connection.outstanding > 0);
    if (!waiting && this.#settledAt === null) {
      this.#settledAt = performance.now();
      this.#timers.push(setTimeout(() => this.#report(), CLOSE_GRACE_MS));
    }
    if (this.#closedCount === this.#connections.length) this.#report();
  }

  #giveUpDraining(): void {
    this.#settledAt ??= performance.now();
    for (const connection of this.#connections) connection.close();
    this.#timers.push(setTimeout(() => this.#report(), CLOSE_GRACE_MS));
  }

  #report(): void {
    const done = this.#done;
    if (done === null) return;
    this.#done = null;
    for (const timer of this.#timers) clearTimeout(timer);
    const settledAt = this.#settledAt ?? performance.now();
    done({
      ...this.counters,
      errors: [...this.#errors].sort((a, b) => b[1] - a[1]),
      latency: this.#latency.toData(),
      elapsedMs: settledAt - this.#startedAt,
    });
  }
}
