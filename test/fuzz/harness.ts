// What every fuzz harness is, and the loop that runs one: case after case,
// each with its own seeded generator, counting outcomes. A harness returns a
// label for an acceptable outcome (a message, a documented close code, a
// documented HTTP status) and throws for anything else.
import { getHeapStatistics } from 'node:v8';
import { Random } from './random.js';

export type HarnessName = 'frame' | 'handshake' | 'deflate' | 'realtime';

export interface Harness {
  readonly name: HarnessName;
  /** Runs one case. Returns its outcome's label; throws `FuzzFailure` (or anything) when the outcome is not allowed. */
  run(random: Random): string;
}

/** A case ended in an outcome the contract forbids. */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
  /** The input that produced it, when there is one. */
  readonly input: Buffer | undefined;
  constructor(message: string, input?: Buffer) {
    super(message);
    this.input = input;
  }
}

/** Throws `FuzzFailure` unless `condition` holds. */
export function expect(condition: boolean, message: string, input?: Buffer): asserts condition {
  if (!condition) throw new FuzzFailure(message, input);
}

/** The case that broke the contract, with what is needed to run it again. */
export class FuzzCaseError extends Error {
  override readonly name = 'FuzzCaseError';
  constructor(
    readonly harness: HarnessName,
    readonly seed: number,
    readonly caseNumber: number,
    cause: unknown,
  ) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`${harness} case ${caseNumber} (seed ${seed}) failed: ${detail}\n  rerun: node scripts/fuzz.mjs --harness ${harness} --seed ${seed} --from ${caseNumber} --cases 1`);
    this.cause = cause;
  }
}

export interface RunStats {
  harness: HarnessName;
  seed: number;
  from: number;
  cases: number;
  ms: number;
  /** Outcome label → count. */
  outcomes: Record<string, number>;
  /** The slowest case (ms) and its number. */
  slowestMs: number;
  slowestCase: number;
}

/** Longest a single case may take before it counts as a hang (ms). */
export const CASE_TIME_LIMIT = 5000;
/**
 * Most the V8 heap may grow during one case. Inputs are at most 64 KiB; a
 * case that makes the code allocate far more (e.g. a decoder trusting a
 * declared size) fails, even if the garbage would be collected later.
 */
export const CASE_HEAP_LIMIT = 64 * 1024 * 1024;

/**
 * Runs cases `from` … `from + count - 1` (or until `deadline`, a
 * `performance.now()` value). Throws `FuzzCaseError` for the first failure.
 */
export function runCases(harness: Harness, seed: number, from: number, count: number, deadline = Infinity): RunStats {
  const outcomes: Record<string, number> = {};
  const started = performance.now();
  let slowestMs = 0;
  let slowestCase = from;
  let done = 0;
  for (; done < count; done++) {
    const caseNumber = from + done;
    if ((done & 63) === 0 && performance.now() > deadline) break;
    const caseStart = performance.now();
    const heapBefore = getHeapStatistics().used_heap_size;
    let label: string;
    try {
      label = harness.run(new Random(seed, caseNumber));
    } catch (error) {
      throw new FuzzCaseError(harness.name, seed, caseNumber, error);
    }
    const caseMs = performance.now() - caseStart;
    const heapGrowth = getHeapStatistics().used_heap_size - heapBefore;
    if (heapGrowth > CASE_HEAP_LIMIT) throw new FuzzCaseError(harness.name, seed, caseNumber, new FuzzFailure(`the heap grew by ${(heapGrowth / 1048576).toFixed(0)} MiB`));
    if (caseMs > slowestMs) {
      slowestMs = caseMs;
      slowestCase = caseNumber;
    }
    if (caseMs > CASE_TIME_LIMIT) throw new FuzzCaseError(harness.name, seed, caseNumber, new FuzzFailure(`took ${caseMs.toFixed(0)} ms`));
    outcomes[label] = (outcomes[label] ?? 0) + 1;
  }
  return { harness: harness.name, seed, from, cases: done, ms: performance.now() - started, outcomes, slowestMs, slowestCase };
}
