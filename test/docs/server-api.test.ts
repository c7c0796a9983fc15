// docs/server-api.md shows a `curl` example per method with its answer: every
// example is run, in the page's order, against `switchboard serve` (the built
// bin) with the page's config file and the key in SWITCHBOARD_API_KEY, and
// each answer must have the fields (and field types) of the one shown.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { API_METHODS } from '../../src/realtime/server/index.js';
import { startServe, type ServeProcess } from '../cli/serve-helpers.js';

const root = resolve(import.meta.dirname, '../..');
const page = readFileSync(join(root, 'docs/server-api.md'), 'utf8');
const KEY = 'docs-example-key-0123456789abcdef';

interface Example {
  method: string;
  body: string | undefined;
  answer: unknown;
}

/** The fenced blocks of the page, in order, with their language. */
function blocks(text: string): Array<{ lang: string; code: string }> {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({ lang: match[1]!, code: match[2]! }));
}

/** Each `curl` block with the JSON block that follows it. */
function examples(text: string): Example[] {
  const found: Example[] = [];
  const all = blocks(text);
  for (const [index, block] of all.entries()) {
    if (block.lang !== 'sh' || !block.code.includes('curl')) continue;
    const command = block.code.replace(/\\\n\s*/g, ' ');
    const method = /\/api\/(\w+)/.exec(command)?.[1];
    assert.ok(method !== undefined, `a method in ${command}`);
    assert.match(command, /-X POST http:\/\/localhost:8080\/api\/\w+ -H "X-API-Key: \$SWITCHBOARD_API_KEY"/);
    const body = /-d '([^']*)'/.exec(command)?.[1];
    const next = all[index + 1];
    assert.equal(next?.lang, 'json', `the answer after the ${method} example`);
    found.push({ method, body, answer: JSON.parse(next!.code) });
  }
  return found;
}

/** A value's shape: its keys (recursively) and the types of its leaves. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([key, inner]) => [key, shapeOf(inner)]));
  }
  return typeof value;
}

describe('docs/server-api.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-api-docs-'));
  let serve: ServeProcess;
  before(async () => {
    const config = blocks(page).find((block) => block.lang === 'json' && block.code.includes('"namespaces"'));
    assert.ok(config !== undefined, 'the config file of the examples');
    writeFileSync(join(dir, 'config.json'), config.code);
    serve = await startServe(['--port', '0', '--config', join(dir, 'config.json')], { SWITCHBOARD_API_KEY: KEY });
  });
  after(async () => {
    await serve?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has an example for every method', () => {
    assert.deepEqual([...new Set(examples(page).map((example) => example.method))].sort(), [...API_METHODS].sort());
  });

  it('every example gets the answer shown (its fields and their types)', async () => {
    for (const example of examples(page)) {
      const response = await fetch(`http://127.0.0.1:${serve.port}/api/${example.method}`, {
        method: 'POST',
        headers: { 'X-API-Key': KEY },
        ...(example.body !== undefined && { body: example.body }),
      });
      const answer = (await response.json()) as unknown;
      assert.equal(response.status, 200, `${example.method}: ${JSON.stringify(answer)}`);
      assert.deepEqual(shapeOf(answer), shapeOf(example.answer), `${example.method}: got ${JSON.stringify(answer)}`);
    }
  });
});
