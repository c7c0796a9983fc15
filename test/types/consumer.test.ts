// The shipped type definitions compile in a project of one's own: the consumer
// in test/types/consumer/ (tsc --init's defaults, exactOptionalPropertyTypes
// and skipLibCheck: false included) is type-checked against the built dist/,
// once with a Node-only lib and once with the DOM lib. `switchboard` resolves
// to this package through a symlink in node_modules, so its package.json
// `exports` (and their `types`) are what the consumer sees.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const fixture = join(import.meta.dirname, 'consumer');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** The subpaths of package.json `exports` that have types (`./package.json` aside). */
async function typedSubpaths(): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  return Object.entries(manifest.exports)
    .filter(([, target]) => typeof target === 'object' && target !== null && 'types' in target)
    .map(([subpath]) => subpath.replace(/^\.\//, ''));
}

/** Copies the consumer into a fresh directory with `switchboard`, `@types/node` and `@types/react` linked into its node_modules. */
async function makeConsumer(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-consumer-'));
  await cp(fixture, dir, { recursive: true });
  await mkdir(join(dir, 'node_modules/@types'), { recursive: true });
  await symlink(root, join(dir, 'node_modules/switchboard'), 'dir');
  for (const types of ['node', 'react']) await symlink(join(root, `node_modules/@types/${types}`), join(dir, `node_modules/@types/${types}`), 'dir');
  return dir;
}

/** Runs tsc on one of the consumer's tsconfig files; resolves with its exit code and output. */
async function typeCheck(dir: string, project: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [tsc, '-p', join(dir, project)], { cwd: dir, timeout: 120_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('shipped type definitions in a consumer project', () => {
  let dir = '';

  before(async () => {
    assert.ok(existsSync(join(root, 'dist/realtime/sdk/node.d.ts')), 'dist/ is missing: run `npm run build` first');
    dir = await makeConsumer();
  });

  after(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('imports every typed subpath export of package.json', async () => {
    const source = await readFile(join(fixture, 'index.ts'), 'utf8');
    const subpaths = await typedSubpaths();
    assert.deepEqual(subpaths.sort(), ['client', 'protocol', 'react', 'realtime', 'sdk', 'server']);
    for (const subpath of subpaths) {
      assert.match(source, new RegExp(`from 'switchboard/${subpath}';`), `the consumer does not import switchboard/${subpath}`);
    }
  });

  it('compiles with a Node-only lib (ES2022, types: node), exactOptionalPropertyTypes and skipLibCheck: false', async () => {
    const config = JSON.parse((await readFile(join(fixture, 'tsconfig.json'), 'utf8')).replace(/^\s*\/\/.*$/gm, '')) as {
      compilerOptions: Record<string, unknown>;
    };
    assert.deepEqual(config.compilerOptions.lib, ['ES2022']);
    assert.equal(config.compilerOptions.skipLibCheck, false);
    assert.equal(config.compilerOptions.exactOptionalPropertyTypes, true);
    const { code, output } = await typeCheck(dir, 'tsconfig.json');
    assert.equal(output, '', `tsc reported:\n${output}`);
    assert.equal(code, 0);
  });

  it('compiles with the DOM lib too', async () => {
    const { code, output } = await typeCheck(dir, 'tsconfig.dom.json');
    assert.equal(output, '', `tsc reported:\n${output}`);
    assert.equal(code, 0);
  });
});
