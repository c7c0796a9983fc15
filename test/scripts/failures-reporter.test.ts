// scripts/run-tests.mjs prints every failed test again after the TAP stream, so
// that the last lines of a long CI log name what failed and why. This runs the
// same reporter pair on two small test files run side by side, one with
// failures, and reads the end of the output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '../..');

const failing = `
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
describe('outer suite', () => {
  describe('inner suite', () => {
    test('passes', () => {});
    test('adds wrong', () => assert.equal(1 + 1, 3));
  });
});
test('throws at top level', () => { throw new Error('top-level boom'); });
`;

const passing = `
import { describe, test } from 'node:test';
describe('another suite', () => { for (let i = 0; i < 20; i++) test('fine ' + i, async () => {}); });
`;

function runReporters(files: string[], cwd: string): string {
  const result = spawnSync(
    process.execPath,
    [
      '--test',
      '--test-concurrency=2',
      '--test-reporter=tap',
      '--test-reporter-destination=stdout',
      `--test-reporter=${join(root, 'scripts/failures-reporter.mjs')}`,
      '--test-reporter-destination=stdout',
      ...files,
    ],
    // Without NODE_TEST_CONTEXT: inside a test run it makes the child report to its parent instead.
    { cwd, encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
  );
  return result.stdout;
}

describe('scripts/failures-reporter.mjs', () => {
  it('ends the output with each failed test: file, suite path, name and error; nothing for passing tests or their suites', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-reporter-'));
    try {
      writeFileSync(join(dir, 'a.test.mjs'), failing);
      writeFileSync(join(dir, 'b.test.mjs'), passing);
      const output = runReporters(['a.test.mjs', 'b.test.mjs'], dir);
      const summaryAt = output.indexOf('# 2 failed tests:');
      assert.ok(summaryAt > 0, output);
      assert.ok(output.lastIndexOf('# fail 2') < summaryAt, 'the summary comes after the TAP totals');
      const summary = output.slice(summaryAt);
      assert.match(summary, /# FAILED .*a\.test\.mjs\n#   outer suite > inner suite > adds wrong\n/);
      assert.match(summary, /2 !== 3/);
      assert.match(summary, /# FAILED .*a\.test\.mjs\n#   throws at top level\n#     Error: top-level boom/);
      assert.doesNotMatch(summary, /b\.test\.mjs|another suite|outer suite\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints nothing when every test passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-reporter-'));
    try {
      writeFileSync(join(dir, 'b.test.mjs'), passing);
      const output = runReporters(['b.test.mjs'], dir);
      assert.match(output, /# pass 20/);
      assert.doesNotMatch(output, /failed test|FAILED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
