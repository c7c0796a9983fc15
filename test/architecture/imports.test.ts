// The module graph of src/: no import cycles (type-only imports included),
// and lower layers never import higher ones. Every relative specifier of
// every src/**/*.ts file is read with TypeScript's own pre-processor
// (`import`, `import type`, `export … from`, `import()`).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) found.push(path);
  }
  return found;
}

/** Each src file (relative to the root, e.g. 'src/realtime/sdk/client.ts') with the src files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(join(root, 'src'))) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = relative(root, resolve(dirname(file), fileName)).replace(/\.js$/, '.ts');
      if (!targets.includes(target)) targets.push(target);
    }
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/** The cycles of the graph: one per strongly connected component of more than one file (or a file importing itself), as a path that closes. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      const seen = state.get(target);
      if (seen === 'open') cycles.push([...stack.slice(stack.indexOf(target)), target]);
      else if (seen === undefined) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

/** Node's server side: what a client (the SDK) has no business loading. */
const NODE_SERVER_SIDE = /^src\/node\/(server[^/]*|http-server|address-limit|broadcast|heartbeat|idle)\.ts$/;

/** Layering rules: a file matching `from` must not import a file matching `to`. */
const RULES: { name: string; from: RegExp; to: RegExp }[] = [
  { name: 'protocol does not import node, realtime or cli', from: /^src\/protocol\//, to: /^src\/(node|realtime|cli)\// },
  { name: 'node does not import realtime or cli', from: /^src\/node\//, to: /^src\/(realtime|cli)\// },
  { name: 'realtime/wire does not import realtime/server or realtime/sdk', from: /^src\/realtime\/wire\//, to: /^src\/realtime\/(server|sdk)\// },
  { name: 'realtime/sdk does not import realtime/server', from: /^src\/realtime\/sdk\//, to: /^src\/realtime\/server\// },
  { name: "realtime/sdk does not import Node's server side", from: /^src\/realtime\/sdk\//, to: NODE_SERVER_SIDE },
  { name: 'realtime/sdk imports nothing outside realtime/sdk and realtime/wire but the Node client', from: /^src\/realtime\/sdk\//, to: /^src\/(?!realtime\/(sdk|wire)\/|node\/client\.ts$)/ },
  { name: "only the SDK's Node entry imports node", from: /^src\/realtime\/sdk\/(?!node\.ts$)/, to: /^src\/node\// },
  { name: 'realtime/broker does not import realtime/server', from: /^src\/realtime\/broker\//, to: /^src\/realtime\/server\// },
  { name: 'only cli imports cli', from: /^src\/(?!cli\/)/, to: /^src\/cli\// },
];

function violations(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  for (const [file, targets] of graph) {
    for (const target of targets) {
      for (const rule of RULES) {
        if (rule.from.test(file) && rule.to.test(target)) found.push(`${rule.name}: ${file} imports ${target}`);
      }
    }
  }
  return found;
}

describe('the import graph of src/', () => {
  const graph = importGraph();

  it('is read from the sources', () => {
    assert.ok(graph.size > 50, `only ${graph.size} files found`);
    const client = graph.get('src/realtime/sdk/index.ts');
    assert.ok(client?.includes('src/realtime/wire/errors.ts'), 'export … from specifiers are read');
    for (const [file, targets] of graph) {
      for (const target of targets) assert.ok(graph.has(target), `${file} imports ${target}, which is not a source file`);
    }
  });

  it('has no cycles, type-only imports included', () => {
    const cycles = findCycles(graph);
    assert.deepEqual(cycles.map((cycle) => cycle.join(' -> ')), []);
  });

  it('has no lower layer importing a higher one', () => {
    assert.deepEqual(violations(graph), []);
  });

  it('finds a cycle and a layering violation when there is one', () => {
    const sample = new Map<string, string[]>([
      ['src/realtime/wire/a.ts', ['src/realtime/wire/b.ts']],
      ['src/realtime/wire/b.ts', ['src/realtime/wire/c.ts', 'src/realtime/server/s.ts']],
      ['src/realtime/wire/c.ts', ['src/realtime/wire/a.ts']],
      ['src/realtime/server/s.ts', []],
      ['src/node/client.ts', ['src/cli/main.ts']],
      ['src/cli/main.ts', []],
    ]);
    assert.deepEqual(findCycles(sample), [['src/realtime/wire/a.ts', 'src/realtime/wire/b.ts', 'src/realtime/wire/c.ts', 'src/realtime/wire/a.ts']]);
    assert.deepEqual(violations(sample), [
      'realtime/wire does not import realtime/server or realtime/sdk: src/realtime/wire/b.ts imports src/realtime/server/s.ts',
      'node does not import realtime or cli: src/node/client.ts imports src/cli/main.ts',
      'only cli imports cli: src/node/client.ts imports src/cli/main.ts',
    ]);
  });
});
