#!/usr/bin/env node
// The long fuzz run: `node scripts/fuzz.mjs --cases 10000000 [--harness frame|handshake|deflate|realtime]`.
//
// Each harness runs in a child process (test/fuzz/worker.ts) that reports
// progress every 1 000 cases; this script prints cases/s, the outcomes and the
// child's memory, and stops with the failing case and the command that
// reproduces it. A child that reports nothing for --stall seconds is a hang;
// its V8 heap is capped (--heap MiB), so unbounded growth ends the run too.
//
// Options:
//   --cases N        cases per harness (default 1 000 000)
//   --harness NAME   one harness (default: all four)
//   --seed S         32-bit seed (default: random, printed)
//   --from N         first case number (default 0): with --seed, reruns a reported case
//   --jobs J         harnesses run at once (default 1)
//   --stall SECONDS  silence that counts as a hang (default 120)
//   --heap MIB       V8 heap limit of each child (default 512)
//   --json FILE      also write the totals as JSON
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const NAMES = ['frame', 'handshake', 'deflate', 'realtime'];
const WORKER = fileURLToPath(new URL('../test/fuzz/worker.ts', import.meta.url));

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000000' },
    harness: { type: 'string' },
    seed: { type: 'string' },
    from: { type: 'string', default: '0' },
    jobs: { type: 'string', default: '1' },
    stall: { type: 'string', default: '120' },
    heap: { type: 'string', default: '512' },
    json: { type: 'string' },
  },
});

const cases = Number(values.cases);
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Math.random() * 0x100000000) >>> 0;
const from = Number(values.from);
const jobs = Math.max(1, Number(values.jobs));
const stallMs = Number(values.stall) * 1000;
const harnesses = values.harness !== undefined ? values.harness.split(',') : NAMES;
for (const name of harnesses) {
  if (!NAMES.includes(name)) {
    console.error(`unknown harness ${name} (one of ${NAMES.join(', ')})`);
    process.exit(2);
  }
}
if (!(Number.isInteger(cases) && cases > 0)) {
  console.error('--cases must be a positive integer');
  process.exit(2);
}

console.log(`fuzz: seed ${seed}, ${cases.toLocaleString('en')} cases per harness from case ${from}, harnesses ${harnesses.join(', ')}`);

/** Runs one harness in a child process; resolves its totals, rejects on a failure or a hang. */
function runHarness(name) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const totals = { harness: name, seed, from, cases: 0, seconds: 0, casesPerSecond: 0, outcomes: {}, slowestMs: 0, slowestCase: from, maxRssMiB: 0 };
    const child = fork(WORKER, [name, String(seed), String(from), String(cases)], { execArgv: ['--import', 'tsx', `--max-old-space-size=${values.heap}`], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let lastReport = Date.now();
    let lastPrint = Date.now();
    let failed = false;
    const watchdog = setInterval(() => {
      if (Date.now() - lastReport < stallMs) return;
      failed = true;
      child.kill('SIGKILL');
      reject(new Error(`${name}: no progress for ${stallMs / 1000} s after case ${from + totals.cases} — a hang in cases ${from + totals.cases} … ${from + totals.cases + 4999}\n  rerun: node scripts/fuzz.mjs --harness ${name} --seed ${seed} --from ${from + totals.cases} --cases 5000`));
    }, 1000);
    child.on('message', (message) => {
      lastReport = Date.now();
      if (message.type === 'progress') {
        totals.cases += message.cases;
        for (const [label, count] of Object.entries(message.outcomes)) totals.outcomes[label] = (totals.outcomes[label] ?? 0) + count;
        if (message.slowestMs > totals.slowestMs) {
          totals.slowestMs = Math.round(message.slowestMs * 10) / 10;
          totals.slowestCase = message.slowestCase;
        }
        totals.maxRssMiB = Math.max(totals.maxRssMiB, Math.round(message.rss / 1048576));
        if (Date.now() - lastPrint >= 10_000) {
          lastPrint = Date.now();
          const seconds = (Date.now() - started) / 1000;
          console.log(`  ${name}: ${totals.cases.toLocaleString('en')} cases, ${Math.round(totals.cases / seconds).toLocaleString('en')}/s, rss ${totals.maxRssMiB} MiB`);
        }
      } else if (message.type === 'failure') {
        failed = true;
        const input = message.input ? `\n  input (base64): ${message.input}` : '';
        reject(new Error(`${message.message}${input}`));
      }
    });
    child.on('exit', (code) => {
      clearInterval(watchdog);
      if (failed) return;
      if (code !== 0) return reject(new Error(`${name}: the worker exited with code ${code}`));
      totals.seconds = Math.round((Date.now() - started) / 100) / 10;
      totals.casesPerSecond = Math.round(totals.cases / totals.seconds);
      resolve(totals);
    });
  });
}

const results = [];
const queue = [...harnesses];
let failure = null;
async function lane() {
  while (queue.length > 0 && failure === null) {
    const name = queue.shift();
    try {
      const totals = await runHarness(name);
      results.push(totals);
      console.log(`${name}: ${totals.cases.toLocaleString('en')} cases in ${totals.seconds} s (${totals.casesPerSecond.toLocaleString('en')}/s), slowest case ${totals.slowestMs} ms (#${totals.slowestCase}), max RSS ${totals.maxRssMiB} MiB`);
      console.log(`  outcomes: ${JSON.stringify(totals.outcomes)}`);
    } catch (error) {
      failure = error;
    }
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, harnesses.length) }, lane));

const total = results.reduce((sum, result) => sum + result.cases, 0);
if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ seed, from, casesPerHarness: cases, total, results, failure: failure?.message ?? null }, null, 2)}\n`);
if (failure !== null) {
  console.error(`FAILED: ${failure.message}`);
  process.exit(1);
}
console.log(`total: ${total.toLocaleString('en')} cases, no failure (seed ${seed})`);
