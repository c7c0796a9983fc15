// The short fuzz run of CI: each harness for a few seconds with a fresh seed
// (printed; set SWITCHBOARD_FUZZ_SEED to repeat a run). A failure names the
// case and the command that runs it again. The long run is
// `node scripts/fuzz.mjs --cases N [--harness NAME]`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCases, type RunStats } from './harness.js';
import { HARNESSES } from './harnesses.js';
import { seedFromEnvironment } from './random.js';

/** Seconds per harness; SWITCHBOARD_FUZZ_SECONDS overrides. */
const SECONDS = Number(process.env.SWITCHBOARD_FUZZ_SECONDS ?? 5);
const seed = seedFromEnvironment();

/**
 * Cases each harness runs at least, however long they take: the time above is
 * what a quiet machine spends, and a loaded one must not cover less.
 */
const MIN_CASES = 2000;

/**
 * Runs cases in batches until the time is up and at least MIN_CASES ran,
 * letting the event loop turn between batches (zlib frees closed streams then).
 */
async function runFor(harness: (typeof HARNESSES)[keyof typeof HARNESSES], ms: number): Promise<RunStats> {
  const deadline = performance.now() + ms;
  const total: RunStats = { harness: harness.name, seed, from: 0, cases: 0, ms: 0, outcomes: {}, slowestMs: 0, slowestCase: 0 };
  while (performance.now() < deadline || total.cases < MIN_CASES) {
    const batch = runCases(harness, seed, total.cases, 500, total.cases < MIN_CASES ? Infinity : deadline);
    total.cases += batch.cases;
    total.ms += batch.ms;
    for (const [label, count] of Object.entries(batch.outcomes)) total.outcomes[label] = (total.outcomes[label] ?? 0) + count;
    if (batch.slowestMs > total.slowestMs) Object.assign(total, { slowestMs: batch.slowestMs, slowestCase: batch.slowestCase });
    await new Promise((resolve) => setImmediate(resolve));
  }
  return total;
}

describe(`fuzz (seed ${seed}, ${SECONDS} s per harness)`, () => {
  for (const harness of Object.values(HARNESSES)) {
    test(harness.name, async () => {
      const stats = await runFor(harness, SECONDS * 1000);
      console.log(JSON.stringify({ fuzz: harness.name, seed, cases: stats.cases, perSecond: Math.round(stats.cases / (stats.ms / 1000)), slowestMs: +stats.slowestMs.toFixed(1), outcomes: stats.outcomes }));
      assert.ok(stats.cases >= MIN_CASES, `only ${stats.cases} cases`);
    });
  }
});
