/**
 * Helpers for tests that run the built `switchboard` command: spawning it
 * (with stdin, or inside a pseudo-terminal through util-linux `script`),
 * WebSocket servers to point it at, and free ports.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type ServerOptions } from '../../src/node/server.js';
import type { ServerWebSocket } from '../../src/node/server-connection.js';

export const BIN = 'dist/cli/main.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `switchboard …` with `input` on stdin (then EOF); resolves when it exits. */
export async function runCli(args: string[], input = ''): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.on('error', () => undefined); // the command may exit before reading everything
  child.stdin.end(input);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** The JSON lines of a `switchboard connect` run. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Text without ANSI escape sequences and carriage returns. */
export function plainText(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

/**
 * What a terminal would show for `output`, line by line: carriage returns and
 * cursor-to-column moves overwrite, erase-line and erase-below clear, colours
 * and other sequences are dropped. Enough for readline's redraws.
 */
export function screenText(output: string): string {
  const lines: string[] = [];
  let line = '';
  let column = 0;
  const write = (text: string): void => {
    line = line.slice(0, column).padEnd(column) + text + line.slice(column + text.length);
    column += text.length;
  };
  const pattern = /\x1b\[([0-9;?]*)([A-Za-z])|\r|\n|[^\x1b\r\n]+/g;
  for (const [token, args, command] of output.matchAll(pattern)) {
    if (token === '\n') {
      lines.push(line.trimEnd());
      line = '';
      column = 0;
    } else if (token === '\r') {
      column = 0;
    } else if (command === 'G') {
      column = Math.max(0, Number(args || '1') - 1);
    } else if (command === 'K' || command === 'J') {
      line = args === '2' ? '' : line.slice(0, column);
    } else if (command === undefined) {
      write(token);
    }
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

/** True when util-linux `script` (pseudo-terminals for the interactive tests) is installed. */
export function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `switchboard …` running in a pseudo-terminal: write keystrokes, wait for output. */
export class TerminalSession {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    const command = [process.execPath, BIN, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
    this.child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '', TERM: 'xterm' } });
    this.child.stdout!.on('data', (chunk) => (this.output += chunk));
    this.child.stderr!.on('data', (chunk) => (this.output += chunk));
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null);
  }

  /** Output so far as a terminal shows it. */
  get text(): string {
    return screenText(this.output);
  }

  type(keys: string): void {
    this.child.stdin!.write(keys);
  }

  /** Ends the terminal's input (Ctrl-D at an empty prompt). */
  endInput(): void {
    this.child.stdin!.end();
  }

  /** Resolves once the plain output matches `pattern`; fails after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.text.match(pattern);
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${this.text}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** A Switchboard server on 127.0.0.1 with a free port, and what it saw. */
export interface TestServer {
  url: string;
  port: number;
  server: WebSocketServer;
  /** The upgrade requests, in order. */
  requests: IncomingMessage[];
  /** Close codes and reasons the server received, in order. */
  closes: Array<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** Starts a server; `onConnection` sets up each connection (the default echoes). */
export async function startServer(
  onConnection: (ws: ServerWebSocket, request: IncomingMessage) => void = echo,
  options: Omit<ServerOptions, 'port' | 'host'> = {},
): Promise<TestServer> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 0, ...options });
  await server.ready();
  const requests: IncomingMessage[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  server.on('connection', (ws, request) => {
    requests.push(request);
    ws.on('close', (code, reason) => closes.push({ code, reason: String(reason) }));
    ws.on('error', () => undefined);
    onConnection(ws, request);
  });
  const scheme = options.tls ? 'wss' : 'ws';
  return {
    url: `${scheme}://127.0.0.1:${server.port}/`,
    port: server.port,
    server,
    requests,
    closes,
    close: () => server.close({ timeout: 500 }),
  };
}

/** Sends every message back with its type. */
export function echo(ws: ServerWebSocket): void {
  ws.on('message', (data, binary) => ws.send(data, { binary }));
}

/** A port nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
