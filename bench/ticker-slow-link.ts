/**
 * The ticker's "slow link" (`ticker.link`), measured: starts `switchboard
 * serve`, opens two raw JSON subscribers of `ticker:quotes` (whole quotes, no
 * deltas), asks the server to pace one of them, and counts for 10 s the
 * publications, the `skipped` they carried and the bytes of each.
 *   node --import tsx bench/ticker-slow-link.ts
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { WebSocket } from '../src/node/client.js';

const SECONDS = 10;

interface Counts {
  publications: number;
  skipped: number;
  bytes: number;
}

async function subscriber(url: string, slow: boolean, name: string): Promise<{ counts: Counts; ws: WebSocket; start: () => void }> {
  const ws = new WebSocket(url, ['switchboard.v1.json']);
  await once(ws, 'open');
  const counts: Counts = { publications: 0, skipped: 0, bytes: 0 };
  let counting = false;
  let linked: () => void = () => {};
  const ready = new Promise<void>((resolve) => (linked = resolve));
  ws.addEventListener('message', (event) => {
    const text = String(event.data);
    const message = JSON.parse(text) as { type?: string; id?: number; skipped?: number };
    if (message.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    if (message.id === 3 || (message.id === 2 && !slow)) linked();
    if (!counting || message.type !== 'publication') return;
    counts.publications++;
    counts.skipped += message.skipped ?? 0;
    counts.bytes += Buffer.byteLength(text);
  });
  ws.send(JSON.stringify({ type: 'connect', id: 1, data: { name, id: `${name}00001` } }));
  ws.send(JSON.stringify({ type: 'subscribe', id: 2, channel: 'ticker:quotes' }));
  if (slow) ws.send(JSON.stringify({ type: 'call', id: 3, method: 'ticker.link', data: { slow: true } }));
  await ready;
  return { counts, ws, start: () => (counting = true) };
}

const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  let out = '';
  const port = await new Promise<number>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const found = /127\.0\.0\.1:(\d+)/.exec(out);
      if (found) resolve(Number(found[1]));
    });
  });
  const url = `ws://127.0.0.1:${port}/rt`;
  const fast = await subscriber(url, false, 'fast');
  const slow = await subscriber(url, true, 'slow');
  // Let the feed start and the slow link's queue reach the conflation threshold.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  fast.start();
  slow.start();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const row = (label: string, counts: Counts) =>
    `| ${label} | ${counts.publications} | ${(counts.publications / SECONDS).toFixed(0)}/s | ${(counts.bytes / 1024).toFixed(0)} KiB (${(counts.bytes / 1024 / SECONDS).toFixed(1)} KiB/s) | ${counts.skipped} |`;
  console.log(`| subscriber (${SECONDS} s) | publications | per second | bytes of data | skipped (counted) |`);
  console.log('|---|---|---|---|---|');
  console.log(row('unpaced', { ...fast.counts }));
  console.log(row('slow link (32 KiB/s), conflated', { ...slow.counts }));
  fast.ws.close();
  slow.ws.close();
} finally {
  child.kill();
}
