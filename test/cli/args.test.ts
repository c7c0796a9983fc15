// What the `switchboard` command says about a wrong command line, and about a
// connection that timed out: plain sentences (no parser jargon), a suggestion
// for a mistyped option, what is wrong with a value, exit status 2 for usage
// errors (no command at all included), and how long a timeout waited.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { parseCommandLine, UsageError } from '../../src/cli/args.js';
import { runCli } from './cli-helpers.js';

describe('switchboard: unknown options and bad values', () => {
  it('an unknown option is named, with the closest known one, and exits 2', async () => {
    const cases: Array<[string[], string]> = [
      [['echo', '--prot', '9001'], 'switchboard echo: unknown option --prot — did you mean --port?'],
      [['bench', 'ws://127.0.0.1:1/', '--conections', '5'], 'switchboard bench: unknown option --conections — did you mean --connections?'],
      [['connect', 'ws://127.0.0.1:1/', '--bogus'], 'switchboard connect: unknown option --bogus\n'],
      [['serve', '--max-socket', '5'], 'switchboard serve: unknown option --max-socket — did you mean --max-sockets?'],
      [['echo', '-x'], 'switchboard echo: unknown option -x\n'],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, args.join(' '));
      assert.ok(stderr.startsWith(message), `${args.join(' ')}:\n${stderr}`);
      assert.doesNotMatch(stderr, /Unknown option '|positional argument|'-- "/, args.join(' '));
      assert.match(stderr, new RegExp(`Run "switchboard ${args[0]} --help" for the options\\.`));
    }
  });

  it('a negative number says what is wrong with the value, not that the argument is ambiguous', async () => {
    const cases: Array<[string[], string]> = [
      [['bench', 'ws://127.0.0.1:1/', '--duration', '-1'], 'switchboard bench: --duration expects a number of seconds above 0 (e.g. 10 or 0.5), got "-1"'],
      [['bench', 'ws://127.0.0.1:1/', '--connections', '-5'], 'switchboard bench: --connections expects a whole number ≥ 1, got "-5"'],
      [['serve', '--workers', '-2'], 'switchboard serve: --workers expects a whole number from 1 to 64, got "-2"'],
      [['echo', '--port', '-1'], 'switchboard echo: --port expects 0-65535, got "-1"'],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, args.join(' '));
      assert.ok(stderr.startsWith(`${message}\n`), `${args.join(' ')}:\n${stderr}`);
      assert.doesNotMatch(stderr, /ambiguous|-XYZ/);
    }
  });

  it('a missing value, or a value given to a flag, is said plainly', async () => {
    const cases: Array<[string[], string]> = [
      [['echo', '--port'], 'switchboard echo: --port needs a value (--port <value> or --port=<value>)'],
      [['echo', '--port', '--max-message', '1m'], 'switchboard echo: --port needs a value, but --max-message follows it (write --port=--max-message if that is the value)'],
      [['connect', 'ws://127.0.0.1:1/', '--insecure=yes'], 'switchboard connect: --insecure takes no value (got "--insecure=yes")'],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, args.join(' '));
      assert.ok(stderr.startsWith(`${message}\n`), `${args.join(' ')}:\n${stderr}`);
    }
  });

  it('parseCommandLine keeps what parseArgs gives: repeated options, positionals, -- and short flags', () => {
    const options = { port: { type: 'string' }, header: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;
    const parsed = parseCommandLine(['ws://a/', '--port', '-7', '--header', 'A: 1', '--header=B: 2', '-h', '--json', '--', '--not-an-option'], options);
    assert.deepEqual({ ...parsed.values }, { port: '-7', header: ['A: 1', 'B: 2'], help: true, json: true });
    assert.deepEqual(parsed.positionals, ['ws://a/', '--not-an-option']);
    assert.throws(() => parseCommandLine(['--jsno'], options), (error: unknown) => error instanceof UsageError && error.message === 'unknown option --jsno — did you mean --json?');
  });
});

describe('switchboard with no command', () => {
  it('prints the help to stderr and exits 2 (a usage error); `switchboard help` still prints it to stdout and exits 0', async () => {
    const bare = await runCli([]);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /^switchboard: no command given\n\nUsage: switchboard <command> \[options\]\n/);
    assert.match(bare.stderr, /^ {2}serve {2,}\S/m);
    const help = await runCli(['help']);
    assert.equal(help.code, 0);
    assert.equal(help.stderr, '');
    assert.match(help.stdout, /^Usage: switchboard <command> \[options\]\n/);
  });
});

/** A TCP server that accepts connections and never answers (a handshake that never completes). */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, sockets };
}

describe('switchboard connect: a handshake that times out', () => {
  it('says how long it waited: --timeout 1500 → "within 1.5 s", exit 1', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const { code, stderr } = await runCli(['connect', `ws://127.0.0.1:${silent.port}/`, '--json', '--timeout', '1500']);
      const elapsed = Date.now() - started;
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`^switchboard connect: no handshake response from 127\\.0\\.0\\.1:${silent.port} within 1\\.5 s — is it a WebSocket server`));
      assert.ok(elapsed >= 1400, `gave up after ${elapsed} ms`);
    } finally {
      for (const socket of silent.sockets) socket.destroy();
      silent.server.close();
    }
  });

  it('by default waits 10 s and says so', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const { code, stderr } = await runCli(['connect', `ws://127.0.0.1:${silent.port}/`, '--json']);
      const elapsed = Date.now() - started;
      assert.equal(code, 1);
      assert.match(stderr, /no handshake response from 127\.0\.0\.1:\d+ within 10 s — /);
      assert.ok(elapsed >= 9900, `gave up after ${elapsed} ms`);
    } finally {
      for (const socket of silent.sockets) socket.destroy();
      silent.server.close();
    }
  });

  it('--timeout takes a whole number of ms ≥ 0', async () => {
    const { code, stderr } = await runCli(['connect', 'ws://127.0.0.1:1/', '--timeout', 'soon']);
    assert.equal(code, 2);
    assert.match(stderr, /--timeout expects a whole number ≥ 0, got "soon"/);
  });
});
