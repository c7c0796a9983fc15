// docs/integrations.md shows the examples' own code: every fenced block with
// `file=<path>` in its info string is that file, or a contiguous excerpt of
// it; the recipes of the server integrations are their whole example file.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

const BLOCK = /^```(\w+) file=(\S+)\n([\s\S]*?)^```$/gm;

describe('docs/integrations.md', () => {
  it("shows the examples' code, word for word", async () => {
    const page = await readFile('docs/integrations.md', 'utf8');
    const blocks = [...page.matchAll(BLOCK)].map(([, , file, body]) => ({ file: file!, body: body! }));
    assert.ok(blocks.length >= 5, `only ${blocks.length} blocks with file=`);
    for (const { file, body } of blocks) {
      const source = await readFile(file, 'utf8');
      assert.ok(body.trim() !== '' && source.includes(body), `a block of docs/integrations.md is not in ${file}:\n${body}`);
    }
    for (const file of ['express.ts', 'fastify.ts', 'hono.ts', 'next/server.ts'].map((name) => `examples/integrations/${name}`)) {
      const whole = blocks.find((block) => block.file === file);
      assert.equal(whole?.body, await readFile(file, 'utf8'), `the recipe is the whole of ${file}`);
    }
  });

  it('is linked from the README', async () => {
    assert.match(await readFile('README.md', 'utf8'), /\]\(docs\/integrations\.md\)/);
  });
});
