// One harness in a child process of scripts/fuzz.mjs: runs cases in batches
// and reports progress (cases, outcomes, memory) after each batch, or the
// failing case. Arguments: harness, seed, first case, number of cases.
import { FuzzCaseError, runCases } from './harness.js';
import { HARNESSES, isHarnessName } from './harnesses.js';

const [name = '', seedText = '0', fromText = '0', countText = '0'] = process.argv.slice(2);
if (!isHarnessName(name)) throw new Error(`unknown harness ${name}`);
const harness = HARNESSES[name];
const seed = Number(seedText) >>> 0;
const from = Number(fromText);
const count = Number(countText);
/** Cases between progress reports; the event loop turns between batches (zlib frees closed streams then). */
const BATCH = 1000;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

for (let done = 0; done < count; ) {
  const size = Math.min(BATCH, count - done);
  try {
    const stats = runCases(harness, seed, from + done, size);
    done += stats.cases;
    process.send!({ type: 'progress', cases: stats.cases, outcomes: stats.outcomes, slowestMs: stats.slowestMs, slowestCase: stats.slowestCase, rss: process.memoryUsage().rss, next: from + done });
    await turn();
  } catch (error) {
    const message = error instanceof FuzzCaseError ? error.message : String((error as Error)?.stack ?? error);
    const input = error instanceof FuzzCaseError && error.cause instanceof Error && 'input' in error.cause ? (error.cause as { input?: Buffer }).input : undefined;
    process.send!({ type: 'failure', message, input: input?.toString('base64') });
    process.exit(1);
  }
}
process.send!({ type: 'done' });
