/**
 * `switchboard bench <url>`: a quick load test of an echo server. Opens the
 * connections (on the main thread or spread over worker threads), keeps
 * messages in flight on each for the duration, checks and times every echo,
 * shows progress on stderr and prints a summary: throughput, latency
 * percentiles, errors and the generator's own CPU use.
 */
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseCommandLine, parseHeaders, parseInteger, parseSeconds, parseSize, parseUrlArgument } from './args.js';
import { emptyCounters, LoadRun, type LoadConfig, type LoadCounters, type LoadResult, type WorkerReport } from './bench-load.js';
import { checkClientArguments } from './connect.js';
import { Histogram } from './histogram.js';
import { ProgressReporter, type ProgressState } from './progress.js';
import { formatCount, formatDecimal, formatMicros, renderTable } from './table.js';

/** The text of `switchboard bench --help`. */
export const BENCH_HELP = `Usage: switchboard bench <url> [options]

A quick load test of an echo server (one that sends every message back as it
came, like "switchboard echo"): opens the connections, keeps messages in
flight on each for the duration, checks every echoed byte and times it.
Progress goes to stderr, the summary to stdout.

Options:
  --connections N       connections to open (default 100)
  --size BYTES          message size (default 32; k and m suffixes, e.g. 64k)
  --duration S          seconds to send for (default 10; decimals allowed)
  --in-flight N         messages each connection keeps outstanding (default 1)
  --binary              send binary messages (default: text)
  --threads N           spread the connections over N worker threads (default 1)
  --protocol NAME       offer this subprotocol (repeatable)
  --header "Name: value"
                        add a request header (repeatable)
  --insecure            accept any TLS certificate for wss:// (testing only)
  --json                print the summary as JSON
  -h, --help            show this help

The summary: connections opened and failed, messages sent and received, msgs/s
and MB/s (echoed payload; 1 MB = 10^6 bytes), latency from send to echo
(p50/p90/p99/max), errors, and the generator's own CPU use. When that is above
~90% of its threads, the generator rather than the server may be the limit:
add --threads, or run it on another machine.

Exit status: 0 when the run completed; 1 when no connection could be opened,
no echo came back, or an echo differed from the message sent; 2 for a usage
error.

Examples:
  switchboard bench ws://127.0.0.1:8080/
  switchboard bench ws://127.0.0.1:8080/ --connections 1000 --in-flight 4 --threads 2 --duration 30
  switchboard bench wss://example.com/echo --size 64k --binary --json
`;

/** The parsed command line of `switchboard bench`. */
export interface BenchOptions {
  url: URL;
  connections: number;
  size: number;
  durationS: number;
  inFlight: number;
  binary: boolean;
  threads: number;
  protocols: string[];
  headers: Record<string, string>;
  insecure: boolean;
  json: boolean;
}

/** The summary of a run, as `--json` prints it. */
export interface BenchSummary {
  url: string;
  ok: boolean;
  /** Why the run failed (empty when `ok`). */
  problems: string[];
  settings: { connections: number; size: number; durationS: number; inFlight: number; binary: boolean; threads: number; protocols: string[] };
  connections: { opened: number; failed: number };
  messages: { sent: number; received: number; unanswered: number; mismatched: number };
  msgsPerSecond: number;
  mbPerSecond: number;
  /** Send-to-echo times; null when no echo came back. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number } | null;
  errors: { count: number; unexpectedCloses: number; messages: Array<{ message: string; count: number }> };
  cpu: { percent: number; threads: number; cores: number; saturated: boolean };
  elapsedS: number;
}

/** Most messages `--in-flight` keeps outstanding per connection. */
const MAX_IN_FLIGHT = 10_000;
/** Most worker threads `--threads` accepts. */
const MAX_THREADS = 64;
/** CPU share of its threads above which the generator may be the bottleneck. */
const SATURATION = 0.9;
/** Runs shorter than this (e.g. every connection refused) say nothing about the generator's CPU. */
const MIN_CPU_SAMPLE_MS = 500;
/** Distinct error messages listed under the summary table. */
const ERRORS_LISTED = 5;

/** Parses the command line; null when --help was asked for. */
export function parseBenchOptions(argv: string[]): BenchOptions | null {
  const { values, positionals } = parseCommandLine(argv, {
    connections: { type: 'string' },
    size: { type: 'string' },
    duration: { type: 'string' },
    'in-flight': { type: 'string' },
    binary: { type: 'boolean' },
    threads: { type: 'string' },
    protocol: { type: 'string', multiple: true },
    header: { type: 'string', multiple: true },
    insecure: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return null;
  const url = parseUrlArgument(positionals);
  const connections = parseInteger('connections', values.connections, 100, 1);
  const options: BenchOptions = {
    url,
    connections,
    size: parseSize('size', values.size, 32),
    durationS: parseSeconds('duration', values.duration, 10),
    inFlight: parseInteger('in-flight', values['in-flight'], 1, 1, MAX_IN_FLIGHT),
    binary: values.binary ?? false,
    threads: Math.min(parseInteger('threads', values.threads, 1, 1, MAX_THREADS), connections),
    protocols: values.protocol ?? [],
    headers: parseHeaders(values.header),
    insecure: values.insecure ?? false,
    json: values.json ?? false,
  };
  checkClientArguments(options.protocols, options.headers);
  return options;
}

/** One load generator config per thread, the connections spread evenly. */
export function splitConfigs(options: BenchOptions): LoadConfig[] {
  const configs: LoadConfig[] = [];
  let first = 0;
  for (let thread = 0; thread < options.threads; thread++) {
    const connections = Math.floor(options.connections / options.threads) + (thread < options.connections % options.threads ? 1 : 0);
    configs.push({
      url: options.url.href,
      connections,
      firstConnection: first,
      size: options.size,
      durationMs: options.durationS * 1000,
      inFlight: options.inFlight,
      binary: options.binary,
      protocols: options.protocols,
      headers: options.headers,
      insecure: options.insecure,
    });
    first += connections;
  }
  return configs;
}

/** Adds up the counters of several generators. */
export function sumCounters(parts: readonly LoadCounters[]): LoadCounters {
  const total = emptyCounters();
  for (const part of parts) {
    for (const key of Object.keys(total) as Array<keyof LoadCounters>) total[key] += part[key];
  }
  return total;
}

/** Adds up the results of several generators. */
export function mergeResults(results: readonly LoadResult[]): LoadResult {
  const counters = sumCounters(results);
  const latency = new Histogram();
  const errors = new Map<string, number>();
  let elapsedMs = 0;
  for (const result of results) {
    latency.merge(result.latency);
    for (const [message, count] of result.errors) errors.set(message, (errors.get(message) ?? 0) + count);
    elapsedMs = Math.max(elapsedMs, result.elapsedMs);
  }
  return { ...counters, errors: [...errors].sort((a, b) => b[1] - a[1]), latency: latency.toData(), elapsedMs };
}

/** Runs generators and reports their combined counters while they run. */
interface LoadSource {
  start(): Promise<LoadResult>;
  counters(): LoadCounters;
  stop(): void;
}

/** One generator on the main thread. */
class InlineLoad implements LoadSource {
  readonly #run: LoadRun;
  constructor(config: LoadConfig) {
    this.#run = new LoadRun(config);
  }
  start(): Promise<LoadResult> {
    return this.#run.start();
  }
  counters(): LoadCounters {
    return { ...this.#run.counters };
  }
  stop(): void {
    this.#run.stop();
  }
}

/** The worker entry point next to this module (.js when built, .ts when run from source). */
function workerEntry(): URL {
  return new URL(`./bench-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
}

/** The result of a generator whose thread died. */
function lostWorkerResult(config: LoadConfig, latest: LoadCounters, message: string): LoadResult {
  return { ...latest, errors: [[message, 1]], latency: new Histogram().toData(), elapsedMs: config.durationMs };
}

/** One generator per worker thread. */
class ThreadedLoad implements LoadSource {
  readonly #configs: LoadConfig[];
  readonly #latest: LoadCounters[];
  readonly #workers: Worker[] = [];

  constructor(configs: LoadConfig[]) {
    this.#configs = configs;
    this.#latest = configs.map(() => emptyCounters());
  }

  async start(): Promise<LoadResult> {
    const results = await Promise.all(this.#configs.map((config, index) => this.#runWorker(config, index)));
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
    return mergeResults(results);
  }

  #runWorker(config: LoadConfig, index: number): Promise<LoadResult> {
    return new Promise((resolve) => {
      const worker = new Worker(workerEntry(), { workerData: config });
      this.#workers.push(worker);
      worker.on('message', (report: WorkerReport) => {
        if (report.type === 'progress') this.#latest[index] = report.counters;
        else resolve(report.result);
      });
      worker.on('error', (error) => resolve(lostWorkerResult(config, this.#latest[index]!, `a worker thread failed: ${error.message}`)));
      worker.on('exit', (code) => resolve(lostWorkerResult(config, this.#latest[index]!, `a worker thread exited early (status ${code})`)));
    });
  }

  counters(): LoadCounters {
    return sumCounters(this.#latest);
  }

  stop(): void {
    for (const worker of this.#workers) worker.postMessage({ type: 'stop' });
  }
}

function describeRun(options: BenchOptions): string {
  const kind = options.binary ? 'binary' : 'text';
  const threads = options.threads === 1 ? '1 thread' : `${options.threads} threads`;
  return `${formatCount(options.connections)} connections × ${options.inFlight} in flight, ${formatCount(options.size)}-byte ${kind} messages, ${options.durationS} s, ${threads}`;
}

function problemsOf(result: LoadResult, url: URL): string[] {
  const problems: string[] = [];
  if (result.opened === 0) {
    const why = result.errors[0]?.[0];
    problems.push(`no connection could be opened${why !== undefined ? `: ${why}` : ''}`);
  } else if (result.received === 0) {
    problems.push(`no echo came back — is ${url.href} an echo server?`);
  }
  if (result.mismatched > 0) {
    problems.push(`${formatCount(result.mismatched)} echoes differed from the messages sent — the server does not echo faithfully`);
  }
  return problems;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** True when the generator used more than ~90% of the cores its threads can use, over a run long enough to tell. */
export function isSaturated(cpuPercent: number, threads: number, cores: number, wallMs: number): boolean {
  return wallMs >= MIN_CPU_SAMPLE_MS && cpuPercent > SATURATION * 100 * Math.min(threads, cores);
}

/** The summary of a finished run; `cpu` and `wallMs` measure the generator itself. */
export function summarize(options: BenchOptions, result: LoadResult, cpu: NodeJS.CpuUsage, wallMs: number): BenchSummary {
  const elapsedS = result.elapsedMs / 1000;
  const latency = new Histogram();
  latency.merge(result.latency);
  const ms = (micros: number): number => round(micros / 1000, 3);
  const cores = availableParallelism();
  const cpuPercent = wallMs > 0 ? ((cpu.user + cpu.system) / 1000 / wallMs) * 100 : 0;
  const problems = problemsOf(result, options.url);
  return {
    url: options.url.href,
    ok: problems.length === 0,
    problems,
    settings: {
      connections: options.connections,
      size: options.size,
      durationS: options.durationS,
      inFlight: options.inFlight,
      binary: options.binary,
      threads: options.threads,
      protocols: options.protocols,
    },
    connections: { opened: result.opened, failed: result.failed },
    messages: { sent: result.sent, received: result.received, unanswered: result.sent - result.received, mismatched: result.mismatched },
    msgsPerSecond: elapsedS > 0 ? round(result.received / elapsedS, 1) : 0,
    mbPerSecond: elapsedS > 0 ? round((result.received * options.size) / 1e6 / elapsedS, 3) : 0,
    latencyMs:
      latency.count === 0
        ? null
        : {
            p50: ms(latency.percentile(0.5)),
            p90: ms(latency.percentile(0.9)),
            p99: ms(latency.percentile(0.99)),
            max: ms(latency.max),
            mean: ms(latency.mean()),
          },
    errors: {
      count: result.failed + result.unexpectedCloses + result.mismatched,
      unexpectedCloses: result.unexpectedCloses,
      messages: result.errors.map(([message, count]) => ({ message, count })),
    },
    cpu: { percent: Math.round(cpuPercent), threads: options.threads, cores, saturated: isSaturated(cpuPercent, options.threads, cores, wallMs) },
    elapsedS: round(elapsedS, 3),
  };
}

/** The summary as a table, with the errors and warnings under it. */
export function formatSummary(summary: BenchSummary, options: BenchOptions): string {
  type Latency = NonNullable<BenchSummary['latencyMs']>;
  const latency = (pick: (latency: Latency) => number): string => (summary.latencyMs === null ? '-' : formatMicros(pick(summary.latencyMs) * 1000));
  const threads = summary.cpu.threads === 1 ? '1 thread' : `${summary.cpu.threads} threads`;
  const rows: Array<[string, string]> = [
    ['connections opened', formatCount(summary.connections.opened)],
    ['connections failed', formatCount(summary.connections.failed)],
    ['messages sent', formatCount(summary.messages.sent)],
    ['messages received', formatCount(summary.messages.received)],
    ['unanswered at the end', formatCount(summary.messages.unanswered)],
    ['msgs/s', formatCount(summary.msgsPerSecond)],
    ['MB/s', formatDecimal(summary.mbPerSecond, 2)],
    ['latency p50', latency((l) => l.p50)],
    ['latency p90', latency((l) => l.p90)],
    ['latency p99', latency((l) => l.p99)],
    ['latency max', latency((l) => l.max)],
    ['mismatched echoes', formatCount(summary.messages.mismatched)],
    ['errors', formatCount(summary.errors.count)],
    ['generator CPU', `${summary.cpu.percent}% (${threads}, ${summary.cpu.cores} cores)`],
    ['elapsed', `${formatDecimal(summary.elapsedS, 2)} s`],
  ];
  const lines = [`${summary.url} — ${describeRun(options)}`, '', renderTable(rows, { header: ['metric', 'value'], align: ['left', 'right'] })];
  if (summary.errors.messages.length > 0) {
    lines.push('errors:');
    for (const { message, count } of summary.errors.messages.slice(0, ERRORS_LISTED)) lines.push(`  ${formatCount(count)}× ${message}`);
    const more = summary.errors.messages.length - ERRORS_LISTED;
    if (more > 0) lines.push(`  … and ${more} other kinds`);
  }
  if (summary.cpu.saturated) lines.push(saturationWarning(summary));
  return `${lines.join('\n').trimEnd()}\n`;
}

function saturationWarning(summary: BenchSummary): string {
  const { percent, threads, cores } = summary.cpu;
  const advice = threads < cores ? `try --threads ${Math.min(cores, threads * 2)} (${cores} cores here)` : 'no spare core is left here: run the generator on another machine';
  return `warning: the load generator used ${percent}% CPU, over ${SATURATION * 100}% of its ${threads === 1 ? 'thread' : `${threads} threads`} — it may be the bottleneck rather than the server; ${advice}`;
}

function progressState(source: LoadSource, options: BenchOptions, startedAt: number): ProgressState {
  const counters = source.counters();
  return {
    elapsedS: Math.min(options.durationS, (performance.now() - startedAt) / 1000),
    durationS: options.durationS,
    received: counters.received,
    open: counters.opened - counters.unexpectedCloses,
    connections: options.connections,
    failed: counters.failed,
  };
}

/** Stops early on the first Ctrl-C (the summary still prints); quits on the second. */
function handleInterrupts(source: LoadSource): () => void {
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nstopping: waiting for outstanding echoes (Ctrl-C again to quit)\n');
    source.stop();
  };
  process.on('SIGINT', onSigint);
  return () => process.off('SIGINT', onSigint);
}

/** Runs the command; resolves with the exit status once the summary is printed. */
export async function runBench(argv: string[]): Promise<number> {
  const options = parseBenchOptions(argv);
  if (options === null) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  const configs = splitConfigs(options);
  const source: LoadSource = configs.length === 1 ? new InlineLoad(configs[0]!) : new ThreadedLoad(configs);
  process.stderr.write(`switchboard bench: ${options.url.href} — ${describeRun(options)} (Ctrl-C stops early)\n`);
  const progress = new ProgressReporter(process.stderr, options.durationS);
  const startedAt = performance.now();
  const cpuStart = process.cpuUsage();
  const ticker = setInterval(() => progress.update(progressState(source, options, startedAt)), progress.intervalMs);
  const removeInterruptHandler = handleInterrupts(source);
  const result = await source.start();
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = performance.now() - startedAt;
  clearInterval(ticker);
  removeInterruptHandler();
  progress.finish();
  const summary = summarize(options, result, cpu, wallMs);
  process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary, options));
  for (const problem of summary.problems) process.stderr.write(`switchboard bench: ${problem}\n`);
  return summary.ok ? 0 : 1;
}
