// `switchboard bench` as users run it: the built bin against echo servers started here
// (a faithful one, one that corrupts echoes, one that never answers), plus the help and usage rules.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BenchSummary } from '../../src/cli/bench.js';
import { startEchoServer } from '../../src/cli/echo.js';
import { Histogram } from '../../src/cli/histogram.js';
import { closest } from '../../src/cli/suggest.js';
import { freePort, runCli, startServer } from './cli-helpers.js';

/** The value column of a row of the summary table. */
function row(stdout: string, label: string): string {
  const match = new RegExp(`^${label}\\s+(.+)$`, 'm').exec(stdout);
  assert.ok(match, `no "${label}" row in:\n${stdout}`);
  return match[1]!.trim();
}

function count(stdout: string, label: string): number {
  return Number(row(stdout, label).replace(/,/g, ''));
}

function parseSummary(stdout: string): BenchSummary {
  return JSON.parse(stdout) as BenchSummary;
}

describe('switchboard bench against an echo server', () => {
  let echo: { port: number; close: () => Promise<void> };
  before(async () => {
    echo = await startEchoServer({ port: 0, host: '127.0.0.1', subprotocols: ['chat'], maxMessageSize: 1 << 20, maxFragments: 1024, log: () => undefined });
  });
  after(() => echo.close());

  it('runs for 2 s with a few connections, prints a consistent summary table and exits 0', async () => {
    const { code, stdout, stderr } = await runCli(['bench', `ws://127.0.0.1:${echo.port}/`, '--connections', '4', '--duration', '2', '--in-flight', '2', '--protocol', 'chat']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^ws:\/\/127\.0\.0\.1:\d+\/ — 4 connections × 2 in flight, 32-byte text messages, 2 s, 1 thread$/m);
    assert.equal(count(stdout, 'connections opened'), 4);
    assert.equal(count(stdout, 'connections failed'), 0);
    const sent = count(stdout, 'messages sent');
    const received = count(stdout, 'messages received');
    assert.ok(received > 0, 'echoes came back');
    assert.equal(count(stdout, 'unanswered at the end'), sent - received);
    assert.equal(sent, received, 'every echo is awaited at the end');
    const elapsed = Number(row(stdout, 'elapsed').replace(' s', ''));
    assert.ok(elapsed >= 2 && elapsed < 6, `elapsed ${elapsed}`);
    const rate = count(stdout, 'msgs/s');
    assert.ok(Math.abs(rate - received / elapsed) <= Math.max(2, rate * 0.01), `msgs/s ${rate} ≈ ${received} / ${elapsed}`);
    assert.ok(Math.abs(Number(row(stdout, 'MB/s')) - (rate * 32) / 1e6) < 0.011);
    const latencies = ['p50', 'p90', 'p99', 'max'].map((p) => Number(row(stdout, `latency ${p}`).replace(' ms', '')));
    assert.ok(latencies[0]! > 0 && latencies.every((value, i) => i === 0 || value >= latencies[i - 1]!), `latencies ${latencies}`);
    assert.equal(count(stdout, 'mismatched echoes'), 0);
    assert.equal(count(stdout, 'errors'), 0);
    assert.match(row(stdout, 'generator CPU'), /^\d+% \(1 thread, \d+ cores\)$/);
    assert.match(stderr, /^switchboard bench: ws:\/\/.* \(Ctrl-C stops early\)$/m);
    assert.match(stderr, /^bench: [12]\.\d\/2 s {2}[\d,]+ msgs\/s {2}4\/4 open$/m, 'a plain progress line when stderr is not a terminal');
  });

  it('--json over 2 threads with binary messages: a parseable summary with consistent numbers', async () => {
    const { code, stdout, stderr } = await runCli(['bench', `ws://127.0.0.1:${echo.port}/`, '--connections', '3', '--duration', '1', '--threads', '2', '--binary', '--size', '1k', '--json']);
    assert.equal(code, 0, stderr);
    const summary = parseSummary(stdout);
    assert.equal(summary.ok, true);
    assert.deepEqual(summary.problems, []);
    assert.deepEqual(summary.settings, { connections: 3, size: 1024, durationS: 1, inFlight: 1, binary: true, threads: 2, protocols: [] });
    assert.deepEqual(summary.connections, { opened: 3, failed: 0 });
    const { sent, received, unanswered, mismatched } = summary.messages;
    assert.ok(received > 0);
    assert.equal(unanswered, sent - received);
    assert.equal(mismatched, 0);
    assert.ok(Math.abs(summary.msgsPerSecond - received / summary.elapsedS) <= Math.max(1, summary.msgsPerSecond * 0.01));
    assert.ok(Math.abs(summary.mbPerSecond - (summary.msgsPerSecond * 1024) / 1e6) < 0.01);
    const latency = summary.latencyMs!;
    assert.ok(latency.p50 > 0 && latency.p50 <= latency.p90 && latency.p90 <= latency.p99 && latency.p99 <= latency.max);
    assert.deepEqual(summary.errors, { count: 0, unexpectedCloses: 0, messages: [] });
    assert.equal(summary.cpu.threads, 2);
    assert.ok(summary.cpu.percent > 0);
  });
});

describe('switchboard bench failures', () => {
  it('exits 1 when echoes do not match what was sent', async () => {
    // Echoes text with its last character changed.
    const server = await startServer((ws) => ws.on('message', (data) => ws.send(`${data.toString().slice(0, -1)}!`)));
    try {
      // 2 s: a loaded machine once gave a 0.5 s run no echo at all.
      const { code, stdout, stderr } = await runCli(['bench', server.url, '--connections', '2', '--duration', '2', '--json']);
      assert.equal(code, 1);
      const summary = parseSummary(stdout);
      assert.equal(summary.ok, false);
      assert.ok(summary.messages.mismatched > 0, JSON.stringify(summary.messages));
      assert.equal(summary.messages.mismatched, summary.messages.received);
      assert.deepEqual(summary.errors.messages, [{ message: 'echo mismatch: an echo with different bytes', count: summary.messages.mismatched }]);
      assert.match(stderr, /echoes differed from the messages sent — the server does not echo faithfully/);
    } finally {
      await server.close();
    }
  });

  it('exits 1 when echoes come back as the other message type', async () => {
    const server = await startServer((ws) => ws.on('message', (data) => ws.send(data, { binary: true })));
    try {
      const { code, stdout } = await runCli(['bench', server.url, '--connections', '1', '--duration', '2']);
      assert.equal(code, 1);
      assert.match(stdout, /^ {2}[\d,]+× echo mismatch: a binary echo of a text message$/m);
    } finally {
      await server.close();
    }
  });

  it('exits 1 when no connection can be opened, saying why', async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await runCli(['bench', `ws://127.0.0.1:${port}/`, '--connections', '3', '--duration', '5']);
    assert.equal(code, 1);
    assert.equal(count(stdout, 'connections failed'), 3);
    assert.equal(row(stdout, 'latency p50'), '-');
    assert.match(stdout, new RegExp(`^ {2}3× connection refused — is a server listening on 127\\.0\\.0\\.1:${port}\\?$`, 'm'));
    assert.match(stderr, new RegExp(`switchboard bench: no connection could be opened: connection refused — is a server listening on 127\\.0\\.0\\.1:${port}\\?`));
  });

  it('exits 1 when the server never answers', async () => {
    const server = await startServer(() => undefined);
    try {
      const { code, stdout, stderr } = await runCli(['bench', server.url, '--connections', '2', '--duration', '0.3', '--json']);
      assert.equal(code, 1);
      const summary = parseSummary(stdout);
      assert.deepEqual(summary.messages, { sent: 2, received: 0, unanswered: 2, mismatched: 0 });
      assert.equal(summary.latencyMs, null);
      assert.match(stderr, /no echo came back — is ws:\/\/127\.0\.0\.1:\d+\/ an echo server\?/);
    } finally {
      await server.close();
    }
  });

  it('usage errors → exit 2 with what to do', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['bench'], /missing <url>/],
      [['bench', 'ws://127.0.0.1:1/', '--connections', '0'], /--connections expects a whole number ≥ 1, got "0"/],
      [['bench', 'ws://127.0.0.1:1/', '--size', 'big'], /--size expects a number \(e\.g\. 1048576, 512k or 16m\), got "big"/],
      [['bench', 'ws://127.0.0.1:1/', '--duration=-1'], /--duration expects a number of seconds above 0/],
      [['bench', 'ws://127.0.0.1:1/', '--duration', '0'], /--duration expects a number of seconds above 0/],
      [['bench', 'ws://127.0.0.1:1/', '--in-flight', '1.5'], /--in-flight expects a whole number from 1 to 10000/],
      [['bench', 'ws://127.0.0.1:1/', '--threads', '0'], /--threads expects a whole number from 1 to 64/],
      [['bench', 'ws://127.0.0.1:1/', '--protocol', 'a,b'], /--protocol: invalid subprotocol "a,b"/],
      [['bench', 'ws://127.0.0.1:1/', '--rate', '5'], /unknown option --rate/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, message, args.join(' '));
      assert.match(stderr, /^Usage: switchboard bench <url> \[options\]$/m);
    }
  });
});

describe('switchboard help', () => {
  it('lists every command with an example; every command has --help with its options and defaults', async () => {
    const main = await runCli(['help']);
    assert.equal(main.code, 0);
    for (const name of ['echo', 'connect', 'bench']) assert.match(main.stdout, new RegExp(`^ {2}${name} {2,}\\S`, 'm'));
    assert.match(main.stdout, /^ {2}switchboard bench ws:\/\/127\.0\.0\.1:8080\/ /m);
    const expectations: Record<string, RegExp[]> = {
      echo: [/--port N/],
      connect: [/--protocol NAME/, /--header "Name: value"/, /--insecure/, /--json/, /--quiet/, /--wait MS/, /\(default 1000\)/, /Examples:/],
      bench: [/--connections N +connections to open \(default 100\)/, /--size BYTES .*\(default 32/, /--duration S .*\(default 10/, /--in-flight N .*\(default 1\)/, /--binary/, /--threads N .*\(default 1\)/, /--json/, /Examples:/],
    };
    for (const [name, patterns] of Object.entries(expectations)) {
      for (const args of [[name, '--help'], [name, '-h'], ['help', name]]) {
        const { code, stdout } = await runCli(args);
        assert.equal(code, 0, args.join(' '));
        assert.match(stdout, new RegExp(`^Usage: switchboard ${name}`));
        for (const pattern of patterns) assert.match(stdout, pattern, `${args.join(' ')}: ${pattern}`);
      }
    }
  });

  it('an unknown command suggests the closest one and exits 2', async () => {
    const typo = await runCli(['bnech', 'ws://x/']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown command "bnech" — did you mean "bench"\?/);
    assert.match(typo.stderr, /Run "switchboard help" for the list of commands/);
    const far = await runCli(['help', 'frobnicate']);
    assert.equal(far.code, 2);
    assert.match(far.stderr, /unknown command "frobnicate" — the commands are echo, serve, connect, bench/);
    assert.equal(closest('conect', ['echo', 'connect', 'bench']), 'connect');
    assert.equal(closest('con', ['echo', 'connect', 'bench']), 'connect');
    assert.equal(closest('ECHO', ['echo', 'connect', 'bench']), 'echo');
    assert.equal(closest('zzz', ['echo', 'connect', 'bench']), null);
  });
});

describe('the latency histogram', () => {
  it('is exact below 128 µs and within 1/64 above; percentiles and merges', () => {
    const histogram = new Histogram();
    for (let value = 1; value <= 100; value++) histogram.record(value);
    assert.equal(histogram.percentile(0.5), 50);
    assert.equal(histogram.percentile(0.99), 99);
    assert.equal(histogram.percentile(1), 100);
    const large = new Histogram();
    for (const value of [1000, 12_345, 999_999, 2 ** 32 + 5]) large.record(value);
    assert.equal(large.max, 2 ** 32 - 1, 'clamped');
    for (const [fraction, value] of [[0.25, 1000], [0.5, 12_345], [0.75, 999_999]] as const) {
      const found = large.percentile(fraction);
      assert.ok(found >= value && found <= value * (1 + 1 / 64), `${fraction}: ${found} for ${value}`);
    }
    histogram.merge(large.toData());
    assert.equal(histogram.count, 104);
    assert.equal(histogram.max, 2 ** 32 - 1);
    assert.equal(histogram.percentile(0.5), 52);
  });
});
