// A walk over a node's n channels, page by page (limit entries each), as the
// cluster's channels method asks it: sorting everything after the cursor for
// every page against keeping the smallest keys in a heap (firstAfter).
// Run: node --import tsx bench/listing-page.ts [n] [limit]
import { compareKeys, firstAfter } from '../src/realtime/server/listing-page.js';
const n = Number(process.argv[2] ?? 100000), limit = Number(process.argv[3] ?? 1000);
const entries: Array<[string, number]> = Array.from({ length: n }, (_, i) => [`room:${(i * 7919) % n}`, i]);
function walk(page: (after: string | undefined) => { entries: Array<[string, number]>; more: boolean }): number {
  const t = process.hrtime.bigint(); let after: string | undefined; let count = 0;
  for (;;) { const p = page(after); count += p.entries.length; if (!p.more) break; after = p.entries[p.entries.length - 1]![0]; }
  if (count !== n) throw new Error('bad walk');
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const sorting = (after: string | undefined) => { const s = (after === undefined ? entries : entries.filter((e) => e[0] > after)).sort((a, b) => compareKeys(a[0], b[0])); return { entries: s.slice(0, limit), more: s.length > limit }; };
const heap = (after: string | undefined) => firstAfter(entries, after, limit, (e) => e[0]);
for (let r = 0; r < 3; r++) console.log(`n=${n} limit=${limit} sort ${walk(sorting).toFixed(0)} ms, heap ${walk(heap).toFixed(0)} ms`);
