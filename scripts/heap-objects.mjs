#!/usr/bin/env node
// The objects of a V8 heap snapshot, by constructor (or kind), with their
// count and self size; given two snapshots, what the second holds more than
// the first, divided by --per (e.g. the number of sessions):
//
//   node scripts/fallback-memory.mjs never-ack --snapshot /tmp/http.heapsnapshot
//   node scripts/fallback-memory.mjs ws-reading --snapshot /tmp/ws.heapsnapshot
//   node scripts/heap-objects.mjs /tmp/http.heapsnapshot [--top 30] [--per 300]
//   node scripts/heap-objects.mjs /tmp/ws.heapsnapshot /tmp/http.heapsnapshot --per 300
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Kinds whose snapshot name is their content (strings) or a detail: counted by kind alone. */
const BY_KIND = new Set(['string', 'concatenated string', 'sliced string', 'number', 'code', 'hidden', 'regexp', 'symbol', 'bigint']);

/** count and self size by constructor / kind. */
function objectsOf(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snapshot.snapshot.meta.node_fields;
  const kinds = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const at = { type: fields.indexOf('type'), name: fields.indexOf('name'), size: fields.indexOf('self_size') };
  const { nodes, strings } = snapshot;
  const totals = new Map();
  for (let index = 0; index < nodes.length; index += width) {
    const kind = kinds[nodes[index + at.type]];
    const key = BY_KIND.has(kind) ? `(${kind})` : `${kind} ${strings[nodes[index + at.name]]}`;
    const entry = totals.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += nodes[index + at.size];
    totals.set(key, entry);
  }
  return totals;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, per: { type: 'string', default: '1' } } });
const per = Number(values.per);
const after = objectsOf(positionals.at(-1));
const before = positionals.length > 1 ? objectsOf(positionals[0]) : new Map();
const rows = [];
let count = 0;
let bytes = 0;
for (const [key, entry] of after) {
  const base = before.get(key) ?? { count: 0, bytes: 0 };
  rows.push({ key, count: entry.count - base.count, bytes: entry.bytes - base.bytes });
  count += entry.count - base.count;
  bytes += entry.bytes - base.bytes;
}
for (const [key, base] of before) if (!after.has(key)) rows.push({ key, count: -base.count, bytes: -base.bytes });
rows.sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes));
const round = (value) => Math.round((value / per) * 10) / 10;
console.log(`${positionals.length > 1 ? 'difference' : 'all'}${per === 1 ? '' : `, per ${per}`}: ${round(count)} objects, ${round(bytes)} bytes`);
for (const row of rows.slice(0, Number(values.top))) console.log(`${String(round(row.bytes)).padStart(12)} B ${String(round(row.count)).padStart(9)} × ${row.key}`);
