// The runnable examples of the README and docs run and print what the docs say.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const tsx = (file: string) => run(process.execPath, ['--import', 'tsx', file], { timeout: 30_000 });

/** The body of the first ```ts block under `heading` in the README. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await readFile('README.md', 'utf8');
  const section = readme.indexOf(`\n## ${heading}\n`);
  assert.notEqual(section, -1, `no section "${heading}" in README.md`);
  const start = readme.indexOf('```ts\n', section) + '```ts\n'.length;
  return readme.slice(start, readme.indexOf('```\n', start));
}

describe('examples', () => {
  it('examples/realtime-in-one-screen.ts is the README\'s "Real-time in one screen", word for word', async () => {
    assert.equal(await readmeBlock('Real-time in one screen'), await readFile('examples/realtime-in-one-screen.ts', 'utf8'));
  });

  it('examples/realtime-in-one-screen.ts prints the publication and the time, then exits by itself', async () => {
    const before = Date.now();
    const { stdout } = await tsx('examples/realtime-in-one-screen.ts'); // rejects if it is still running after 30 s
    const lines = stdout.trim().split('\n');
    assert.ok(lines.includes("1 { text: 'hi' }"), stdout);
    const time = lines.map(Number).find((value) => Number.isInteger(value) && value > 1_000_000_000_000);
    assert.ok(time !== undefined && time >= before && time <= Date.now(), `no server time in:\n${stdout}`);
  });

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

  it('examples/realtime-chat.ts', async () => {
    const { stdout } = await tsx('examples/realtime-chat.ts');
    const lines = stdout.trim().split('\n');
    for (const line of [
      'members: alice, bob',
      'alice is asked: create games?',
      'created: room-games',
      'refused: invalid_room',
      'bob resubscribed, recovered: true',
    ]) {
      assert.ok(lines.includes(line), `missing line ${line} in:\n${stdout}`);
    }
    const bobs = lines.filter((line) => line.startsWith('bob got'));
    assert.deepEqual(bobs, ['bob got #1 from alice: hello', 'bob got #2 from alice: while you were away', 'bob got #3 from alice: still away?']);
    assert.ok(lines.indexOf('bob resubscribed, recovered: true') < lines.indexOf('bob got #2 from alice: while you were away'));
  });
});
