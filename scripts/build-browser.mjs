#!/usr/bin/env node
// Bundles the real-time client SDK for browsers: one ESM file with no
// dependencies outside it, using the browser's own WebSocket.
// Output: dist/browser/switchboard-sdk.js (+ .map).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entry = 'src/realtime/sdk/browser.ts';
if (!existsSync(entry)) {
  console.error(`build-browser: ${entry} is missing`);
  process.exit(1);
}
await build({
  entryPoints: [entry],
  outfile: 'dist/browser/switchboard-sdk.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  sourcemap: true,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
