#!/usr/bin/env node
// Runs every test file under test/ (files ending in .test.ts) with Node's test
// runner and tsx. Extra arguments are passed to `node --test` (e.g. a filter:
// `npm test -- --test-name-pattern=close`), or name test files to run alone.
// A test file may run up to 15 minutes: the heavy ones (large histories, Redis
// Clusters, next build) take well under that alone, but share 2 cores in CI.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const args = process.argv.slice(2);
const files = args.filter((arg) => arg.endsWith('.ts'));
const flags = args.filter((arg) => !arg.endsWith('.ts'));
const tests = files.length > 0 ? files : findTests('test');
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-timeout=900000',
    // TAP as before, then every failure again at the end (scripts/failures-reporter.mjs).
    '--test-reporter=tap',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/failures-reporter.mjs',
    '--test-reporter-destination=stdout',
    ...flags,
    ...tests,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
