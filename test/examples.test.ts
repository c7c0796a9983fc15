// The runnable examples of the README and docs run and print what the docs say.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const tsx = (file: string) => run(process.execPath, ['--import', 'tsx', file], { timeout: 30_000 });

describe('examples', () => {
  it('examples/sans-io.ts', async () => {
    const { stdout } = await tsx('examples/sans-io.ts');
    assert.match(stdout, /message: Hello/);
    assert.match(stdout, /bytes to send: 810b6563686f3a2048656c6c6f/);
    assert.match(stdout, /violation: SB_ERR_UNMASKED_FRAME → close 1002/);
    assert.match(stdout, /bytes to send: 880203ea/);
  });

  it('examples/server-and-client.ts', async () => {
    const { stdout } = await tsx('examples/server-and-client.ts');
    assert.equal(stdout, 'open, protocol: chat\ntext héllo\nbinary 1,2,3\ntext to everyone\nclosed: 1000 done true\n');
  });
});
