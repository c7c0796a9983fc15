// `switchboard connect` as users run it: the built bin against servers started here,
// through pipes (JSON lines) and through a pseudo-terminal (the interactive prompt).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parsePromptLine } from '../../src/cli/connect-interactive.js';
import { freePort, hasScript, jsonLines, runCli, startServer, TerminalSession, type TestServer } from './cli-helpers.js';

describe('switchboard connect: JSON lines (stdin not a terminal)', () => {
  let server: TestServer;
  before(async () => {
    // Greets with a binary message, echoes, and closes with 4001 when asked to.
    server = await startServer(
      (ws) => {
        ws.send(Buffer.from([0x00, 0x01, 0xff]));
        ws.on('message', (data, binary) => {
          if (!binary && data.toString() === 'please close') ws.close(4001, 'as you wish');
          else ws.send(data, { binary });
        });
      },
      { subprotocols: ['chat'] },
    );
  });
  after(() => server.close());

  it('sends each line as text, prints every event as JSON, closes with 1000 at EOF and exits 0', async () => {
    const { code, stdout, stderr } = await runCli(['connect', server.url, '--protocol', 'other', '--protocol', 'chat', '--wait', '300'], 'hello\nwörld €\n\n');
    assert.equal(code, 0, stderr);
    assert.deepEqual(jsonLines(stdout), [
      { type: 'open', protocol: 'chat', extensions: '' },
      { type: 'binary', hex: '0001ff' },
      { type: 'text', data: 'hello' },
      { type: 'text', data: 'wörld €' },
      { type: 'text', data: '' },
      { type: 'close', code: 1000, reason: '' },
    ]);
    assert.deepEqual(server.closes.at(-1), { code: 1000, reason: '' });
  });

  it('reports a close started by the server with its code and reason, and exits 1 for a code other than 1000/1001', async () => {
    const { code, stdout } = await runCli(['connect', server.url, '--wait', '3000'], 'please close\n');
    assert.equal(code, 1);
    assert.deepEqual(jsonLines(stdout).at(-1), { type: 'close', code: 4001, reason: 'as you wish' });
  });

  it('a connection dropped without a closing handshake → close 1006, a message on stderr, exit 1', async () => {
    const dropping = await startServer((ws) => ws.on('message', () => ws.terminate()));
    try {
      const { code, stdout, stderr } = await runCli(['connect', dropping.url, '--wait', '3000'], 'anything\n');
      assert.equal(code, 1);
      assert.deepEqual(jsonLines(stdout).at(-1), { type: 'close', code: 1006, reason: '' });
      assert.match(stderr, /^switchboard connect: the connection was lost without a closing handshake/);
    } finally {
      await dropping.close();
    }
  });

  it('a server that closes cleanly without a code (1005) → exit 0', async () => {
    const closing = await startServer((ws) => ws.on('message', () => ws.close()));
    try {
      const { code, stdout } = await runCli(['connect', closing.url, '--wait', '3000'], 'done\n');
      assert.equal(code, 0);
      assert.deepEqual(jsonLines(stdout).at(-1), { type: 'close', code: 1005, reason: '' });
    } finally {
      await closing.close();
    }
  });

  it('--quiet prints messages only', async () => {
    const { code, stdout } = await runCli(['connect', server.url, '--quiet', '--wait', '200'], 'x\n');
    assert.equal(code, 0);
    assert.deepEqual(jsonLines(stdout), [{ type: 'binary', hex: '0001ff' }, { type: 'text', data: 'x' }]);
  });
});

describe('switchboard connect: request headers and failures', () => {
  it('sends --header values with the upgrade request', async () => {
    const server = await startServer();
    try {
      const args = ['connect', server.url, '--header', 'X-Token: abc 123', '--header', 'X-Multi: 1', '--header', 'x-multi: 2', '--header', 'Origin: https://app.example', '--wait', '0'];
      const { code, stderr } = await runCli(args);
      assert.equal(code, 0, stderr);
      const headers = server.requests[0]!.headers;
      assert.equal(headers['x-token'], 'abc 123');
      assert.equal(headers['x-multi'], '1, 2');
      assert.equal(headers.origin, 'https://app.example');
    } finally {
      await server.close();
    }
  });

  it('connection refused → exit 1 and a message that says what to check', async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await runCli(['connect', `ws://127.0.0.1:${port}/`]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(stderr, `switchboard connect: connection refused — is a server listening on 127.0.0.1:${port}?\n`);
  });

  it('an HTTP error instead of the upgrade → exit 1 naming the status and what to check', async () => {
    const server = await startServer(undefined, { paths: ['/socket'] });
    try {
      const { code, stderr } = await runCli(['connect', `${server.url}elsewhere`]);
      assert.equal(code, 1);
      assert.match(stderr, /the server answered HTTP 404 instead of switching to WebSocket — check the path in the URL/);
    } finally {
      await server.close();
    }
  });

  it('usage errors → exit 2 with what to do', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['connect'], /missing <url> \(e\.g\. ws:\/\/127\.0\.0\.1:8080\/\)/],
      [['connect', 'ws://a/', 'ws://b/'], /expects one <url>, got 2 arguments/],
      [['connect', 'ftp://example.com/'], /use ws:\/\/ or wss:\/\//],
      [['connect', 'ws://127.0.0.1:1/', '--header', 'no colon'], /--header expects "Name: value"/],
      [['connect', 'ws://127.0.0.1:1/', '--header', 'Sec-WebSocket-Key: x'], /--header: header "Sec-WebSocket-Key" is set by the handshake/],
      [['connect', 'ws://127.0.0.1:1/', '--protocol', 'two words'], /--protocol: invalid subprotocol "two words"/],
      [['connect', 'ws://127.0.0.1:1/', '--wait', 'soon'], /--wait expects a whole number ≥ 0, got "soon"/],
      [['connect', 'ws://127.0.0.1:1/', '--bogus'], /unknown option --bogus/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, message, args.join(' '));
      assert.match(stderr, /Run "switchboard connect --help" for the options\./);
    }
  });
});

describe('switchboard connect: wss:// with an untrusted certificate', () => {
  let dir: string;
  let server: TestServer;
  const haveOpenssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  before(async () => {
    if (!haveOpenssl) return;
    dir = mkdtempSync(join(tmpdir(), 'switchboard-connect-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    server = await startServer(undefined, { tls: { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) } });
  });
  after(async () => {
    if (!haveOpenssl) return;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails with a hint to use --insecure, and works with it', { skip: haveOpenssl ? false : 'openssl is not installed' }, async () => {
    const refused = await runCli(['connect', server.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^switchboard connect: TLS: .*pass --insecure to skip the check/);
    const accepted = await runCli(['connect', server.url, '--insecure', '--wait', '200'], 'over tls\n');
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.deepEqual(jsonLines(accepted.stdout).slice(1), [
      { type: 'text', data: 'over tls' },
      { type: 'close', code: 1000, reason: '' },
    ]);
  });
});

describe('switchboard connect: interactive, in a pseudo-terminal', { skip: hasScript() ? false : 'util-linux script is not installed' }, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(undefined, { subprotocols: ['chat'] });
  });
  after(() => server.close());

  it('sends typed lines, shows echoes, /ping, /binary and /close 4000 bye, then exits 0', async () => {
    const terminal = new TerminalSession(['connect', server.url, '--protocol', 'chat']);
    try {
      await terminal.waitFor(/connected to ws:\/\/127\.0\.0\.1:\d+\/ — subprotocol: chat; extensions: none/);
      assert.match(terminal.output, /\x1b\[32m<|\x1b\[2m/, 'colours on a terminal');
      terminal.type('hello there\n');
      await terminal.waitFor(/^< hello there$/m);
      terminal.type('/ping are you there\n');
      await terminal.waitFor(/^\* pong \(\d+\.\d ms\): are you there$/m);
      terminal.type('/binary 00 01 ff\n');
      await terminal.waitFor(/^< \[binary, 3 bytes\] 00 01 ff$/m);
      terminal.type('/close 1001\n');
      await terminal.waitFor(/^! close code must be 1000 or in 3000-4999, got 1001$/m);
      terminal.type('/nope\n');
      await terminal.waitFor(/^! unknown command \/nope — \/help lists the commands/m);
      terminal.type('/close 4000 bye\n');
      await terminal.waitFor(/^\* closed: 4000 bye \(clean\)$/m);
      assert.equal(await terminal.exited, 0);
      assert.deepEqual(server.closes.at(-1), { code: 4000, reason: 'bye' });
    } finally {
      terminal.kill();
    }
  });

  it('Ctrl-D closes with 1000; a close started by the server is shown', async () => {
    const terminal = new TerminalSession(['connect', server.url]);
    try {
      await terminal.waitFor(/connected to/);
      terminal.type('/help\n');
      await terminal.waitFor(/^\/close \[code\] \[reason\]/m);
      terminal.endInput();
      await terminal.waitFor(/^\* closed: 1000 \(clean\)$/m);
      assert.equal(await terminal.exited, 0);
      assert.deepEqual(server.closes.at(-1), { code: 1000, reason: '' });
    } finally {
      terminal.kill();
    }
  });

  it('a server that goes away with 1011 → the close is shown and the exit status is 1', async () => {
    const failing = await startServer((ws) => ws.on('message', () => ws.close(1011, 'boom')));
    const terminal = new TerminalSession(['connect', failing.url]);
    try {
      await terminal.waitFor(/connected to/);
      terminal.type('trigger\n');
      await terminal.waitFor(/^\* closed: 1011 boom \(clean\)$/m);
      assert.equal(await terminal.exited, 1);
    } finally {
      terminal.kill();
      await failing.close();
    }
  });
});

describe('the prompt commands', () => {
  it('parses text, //text, /ping, /close, /binary, /help and mistakes', () => {
    assert.deepEqual(parsePromptLine('hello /world'), { kind: 'text', text: 'hello /world' });
    assert.deepEqual(parsePromptLine('//etc/passwd'), { kind: 'text', text: '/etc/passwd' });
    assert.deepEqual(parsePromptLine('/ping'), { kind: 'ping', data: '' });
    assert.deepEqual(parsePromptLine('/ping a  b'), { kind: 'ping', data: 'a  b' });
    assert.deepEqual(parsePromptLine('/close'), { kind: 'close', code: 1000, reason: '' });
    assert.deepEqual(parsePromptLine('/close 4000 bye now'), { kind: 'close', code: 4000, reason: 'bye now' });
    assert.deepEqual(parsePromptLine('/close done'), { kind: 'close', code: 1000, reason: 'done' });
    assert.deepEqual(parsePromptLine('/binary 48 65:6c 0x'), { kind: 'invalid', message: '/binary expects whole bytes in hex, e.g. /binary 48 65 6c 6c 6f' });
    assert.deepEqual(parsePromptLine('/binary 0x48656c'), { kind: 'binary', bytes: new Uint8Array([0x48, 0x65, 0x6c]) });
    assert.deepEqual(parsePromptLine('/help'), { kind: 'help' });
    assert.equal(parsePromptLine('/quit').kind, 'invalid');
  });
});
