// Unmasking speed (RFC 6455 §5.3) of the protocol core's applyMask, in place,
// per run length: ns per call and GB/s. Give another build's
// dist/protocol/mask.js to compare two builds on the same machine.
//   npm run build && node bench/mask-speed.mjs [path/to/mask.js]
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const modulePath = process.argv[2] ?? new URL('../dist/protocol/mask.js', import.meta.url).pathname;
const { applyMask } = await import(pathToFileURL(resolve(modulePath)).href);
const key = new Uint8Array([1, 2, 3, 4]);
const buffer = Buffer.alloc(65536 + 16);
console.log('bytes\tns/call\tGB/s');
for (const size of [125, 512, 1024, 4096, 16384, 65536]) {
  // Offset 6: where a payload starts after a 2-byte header and a 4-byte key.
  const view = buffer.subarray(6, 6 + size);
  const calls = Math.round(2e8 / (size + 64));
  let ns = 0;
  for (let round = 0; round < 3; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) applyMask(view, 0, size, view, 0, key, 0);
    ns = Number(process.hrtime.bigint() - started) / calls; // the last round, once warm
  }
  console.log(`${size}\t${ns.toFixed(0)}\t${(size / ns).toFixed(2)}`);
}
