#!/usr/bin/env node
// `npm start`: builds when dist/ is missing or older than its sources (so a
// fresh clone, whose `npm install` already built it, is not built twice),
// then runs `switchboard serve --port ${PORT:-8080}` in this process.
// Arguments after `npm start --` go to `switchboard serve`.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildStatus } from './build-status.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

/** Runs `npm run build` (with the npm that runs this script, when there is one); exits on failure. */
function build(reason) {
  console.log(`start: ${reason} — building`);
  const npm = process.env.npm_execpath;
  const result =
    npm !== undefined && npm.endsWith('.js')
      ? spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' })
      : spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('start: the build failed');
    process.exit(result.status ?? 1);
  }
}

const status = buildStatus(root);
if (!status.fresh) build(status.reason);

const main = join(root, 'dist/cli/main.js');
process.argv = [process.execPath, main, 'serve', '--port', process.env.PORT || '8080', ...process.argv.slice(2)];
await import(pathToFileURL(main).href);
