// docs/errors.md lists every error code: the codes are collected from src/
// (every `SB_ERR_…` string there) and compared with the codes the page lists.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '../..');
const CODE = /SB_ERR_[A-Z0-9_]+/g;

/** Every .ts file under `dir`. */
async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

/** The `SB_ERR_…` codes that occur in `texts`, sorted. */
function codesIn(texts: string[]): string[] {
  const codes = new Set<string>();
  for (const text of texts) for (const match of text.matchAll(CODE)) codes.add(match[0]);
  return [...codes].sort();
}

/** The codes in the first column of the tables of docs/errors.md. */
function documentedCodes(page: string): string[] {
  const rows = page.split('\n').filter((line) => /^\| `SB_ERR_/.test(line));
  return codesIn(rows.map((row) => row.split('|')[1] ?? ''));
}

describe('docs/errors.md', () => {
  it('lists every SB_ERR_ code defined in src/, and no other', async () => {
    const files = await sourceFiles(join(root, 'src'));
    const defined = codesIn(await Promise.all(files.map((file) => readFile(file, 'utf8'))));
    const documented = documentedCodes(await readFile(join(root, 'docs/errors.md'), 'utf8'));
    assert.ok(defined.length >= 50, `only ${defined.length} codes found in src/`);
    const missing = defined.filter((code) => !documented.includes(code));
    const stale = documented.filter((code) => !defined.includes(code));
    assert.deepEqual(missing, [], `docs/errors.md misses ${missing.join(', ')}`);
    assert.deepEqual(stale, [], `docs/errors.md lists codes that no longer exist: ${stale.join(', ')}`);
  });
});
