#!/usr/bin/env node
// Whether dist/ is up to date with what `npm run build` builds it from: it is
// stale when an output is missing, or when a source (src/, the tsconfig
// files, the browser bundler, package.json) changed after the oldest output
// was written. `npm start` (scripts/start.mjs) builds only then.
// Run alone, it prints the answer: node scripts/build-status.mjs
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the build writes last (tsc, then the browser bundle): its oldest file dates the build. */
export const BUILD_OUTPUTS = ['dist/cli/main.js', 'dist/browser/switchboard-sdk.js'];
/** What the build reads: a directory stands for every file under it. */
export const BUILD_INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build-browser.mjs', 'package.json'];

/** The newest file under `path` (itself when a file), or null when there is none. */
function newestFile(path) {
  if (!existsSync(path)) return null;
  const stats = statSync(path);
  if (!stats.isDirectory()) return { path, mtimeMs: stats.mtimeMs };
  let newest = null;
  for (const name of readdirSync(path)) {
    const found = newestFile(join(path, name));
    if (found !== null && (newest === null || found.mtimeMs > newest.mtimeMs)) newest = found;
  }
  return newest;
}

/**
 * `{ fresh: true }` when dist/ under `root` is up to date, else
 * `{ fresh: false, reason }` saying what is missing or what changed.
 */
export function buildStatus(root) {
  let built = Infinity;
  for (const output of BUILD_OUTPUTS) {
    const path = join(root, output);
    if (!existsSync(path)) return { fresh: false, reason: `${output} is missing` };
    built = Math.min(built, statSync(path).mtimeMs);
  }
  for (const input of BUILD_INPUTS) {
    const newest = newestFile(join(root, input));
    if (newest !== null && newest.mtimeMs > built) return { fresh: false, reason: `${relative(root, newest.path)} changed since the last build` };
  }
  return { fresh: true };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const status = buildStatus(process.cwd());
  console.log(status.fresh ? 'dist/ is up to date' : `dist/ is stale: ${status.reason}`);
  process.exitCode = status.fresh ? 0 : 1;
}
