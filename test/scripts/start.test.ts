// `npm start` builds only when dist/ is missing or stale: on a fresh copy of
// the sources (no dist/) it builds once and serves; run again, it serves
// without building. scripts/build-status.mjs decides, from file times.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
// @ts-expect-error: a plain .mjs script without declarations
import { buildStatus } from '../../scripts/build-status.mjs';

const root = resolve(import.meta.dirname, '../..');
const status = buildStatus as (root: string) => { fresh: boolean; reason?: string };

/** Writes `path` under `dir` with its modification time `secondsAgo` in the past. */
function writeAged(dir: string, path: string, secondsAgo: number): void {
  const full = join(dir, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, '');
  const time = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(full, time, time);
}

interface StartRun {
  output: string;
  port: number;
}

/** Runs `npm start` in `dir` with PORT=0 until the server answers /healthz, then stops it with SIGINT. */
async function npmStart(dir: string): Promise<StartRun> {
  const npm = process.env.npm_execpath;
  const [command, args] = npm !== undefined && npm.endsWith('.js') ? [process.execPath, [npm, 'start']] : ['npm', ['start']];
  const child = spawn(command, args, { cwd: dir, env: { ...process.env, PORT: '0', NO_COLOR: '' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit');
  try {
    const deadline = Date.now() + 100_000;
    let match: RegExpMatchArray | null = null;
    while (match === null) {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`npm start did not serve within 100 s:\n${output}`);
      await new Promise((done) => setTimeout(done, 100));
      match = /switchboard serve listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(output);
    }
    const port = Number(match[1]);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    return { output, port };
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
    await exited;
  }
}

describe('scripts/build-status.mjs', () => {
  it('stale when an output is missing or a source is newer than the oldest output; fresh otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-build-status-'));
    try {
      writeAged(dir, 'src/cli/main.ts', 100);
      writeAged(dir, 'package.json', 100);
      assert.deepEqual(status(dir), { fresh: false, reason: 'dist/cli/main.js is missing' });
      writeAged(dir, 'dist/cli/main.js', 60);
      assert.deepEqual(status(dir), { fresh: false, reason: 'dist/browser/switchboard-sdk.js is missing' });
      writeAged(dir, 'dist/browser/switchboard-sdk.js', 50);
      assert.deepEqual(status(dir), { fresh: true });
      writeAged(dir, 'src/realtime/sdk/client.ts', 55); // after tsc, before the bundle
      assert.deepEqual(status(dir), { fresh: false, reason: 'src/realtime/sdk/client.ts changed since the last build' });
      writeAged(dir, 'dist/cli/main.js', 10);
      writeAged(dir, 'dist/browser/switchboard-sdk.js', 10);
      assert.deepEqual(status(dir), { fresh: true });
      writeAged(dir, 'tsconfig.build.json', 5);
      assert.deepEqual(status(dir), { fresh: false, reason: 'tsconfig.build.json changed since the last build' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start', () => {
  it('on a fresh copy builds once and serves; started again, serves without building', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-start-'));
    try {
      for (const path of ['src', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) {
        cpSync(join(root, path), join(dir, path), { recursive: true });
      }
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
      const build = /^> switchboard@\S+ build$/gm;

      const first = await npmStart(dir);
      assert.match(first.output, /^start: dist\/cli\/main\.js is missing — building$/m);
      assert.equal(first.output.match(build)?.length, 1, first.output);
      assert.deepEqual(status(dir), { fresh: true });

      const second = await npmStart(dir);
      assert.equal(second.output.match(build), null, second.output);
      assert.doesNotMatch(second.output, /building/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
