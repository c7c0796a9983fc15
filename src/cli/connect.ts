/**
 * `switchboard connect <url>`: a WebSocket client for the terminal and for
 * scripts. On a terminal it is interactive (see connect-interactive.ts);
 * with stdin from a pipe or file, or with --json, it sends stdin's lines and
 * prints what arrives as JSON lines (see connect-json.ts).
 */
import { buildRequestHeaders, DEFAULT_HANDSHAKE_TIMEOUT, parseProtocols, WebSocket, type ClientOptions } from '../node/client.js';
import { LocalProtocolError } from '../protocol/errors.js';
import { parseCommandLine, parseHeaders, parseInteger, parseUrlArgument, UsageError } from './args.js';
import type { ConnectOptions } from './connect-common.js';
import { runInteractiveSession } from './connect-interactive.js';
import { runJsonSession } from './connect-json.js';

/** The text of `switchboard connect --help`. */
export const CONNECT_HELP = `Usage: switchboard connect <url> [options]

A WebSocket client. On a terminal: a prompt; each line you type is sent as a
text message and incoming messages are printed as they arrive (binary ones in
hex). Commands at the prompt:
  /ping [data]  /close [code] [reason]  /binary <hex>  /help

When stdin is not a terminal (or with --json): each stdin line is sent as a
text message, and every event is printed as one JSON line:
  {"type":"open","protocol":"chat","extensions":""}
  {"type":"text","data":"hello"}
  {"type":"binary","hex":"0001ff"}
  {"type":"close","code":1000,"reason":""}
At the end of stdin the client waits for replies (--wait), then closes with 1000.

Options:
  --protocol NAME       offer this subprotocol (repeatable, in order of preference)
  --header "Name: value"
                        add a request header (repeatable), e.g. "Authorization: Bearer abc"
  --insecure            accept any TLS certificate for wss:// (self-signed, expired; testing only)
  --json                JSON lines even when stdin is a terminal
  --quiet               print messages only, no open/close notices
  --wait MS             after the end of stdin, wait this long for replies before closing
                        (default 1000)
  --timeout MS          give up when connecting and the handshake take longer than this
                        (default 10000; 0 waits for ever)
  -h, --help            show this help

Exit status: 0 after a normal close (1000 or 1001, a clean close without a
code, or a clean close you started), 1 after an abnormal close or when the
connection failed, 2 for a usage error.

Examples:
  switchboard connect ws://127.0.0.1:8080/
  switchboard connect wss://example.com/socket --protocol chat --header "Authorization: Bearer abc"
  printf 'hello\\nworld\\n' | switchboard connect ws://127.0.0.1:8080/ --wait 500
`;

const DEFAULT_WAIT_MS = 1000;

/** Parses the command line; null when --help was asked for. */
export function parseConnectOptions(argv: string[]): ConnectOptions | null {
  const { values, positionals } = parseCommandLine(argv, {
    protocol: { type: 'string', multiple: true },
    header: { type: 'string', multiple: true },
    insecure: { type: 'boolean' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean' },
    wait: { type: 'string' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return null;
  const options: ConnectOptions = {
    url: parseUrlArgument(positionals),
    protocols: values.protocol ?? [],
    headers: parseHeaders(values.header),
    insecure: values.insecure ?? false,
    json: values.json ?? false,
    quiet: values.quiet ?? false,
    waitMs: parseInteger('wait', values.wait, DEFAULT_WAIT_MS, 0),
    timeoutMs: parseInteger('timeout', values.timeout, DEFAULT_HANDSHAKE_TIMEOUT, 0),
  };
  checkClientArguments(options.protocols, options.headers);
  return options;
}

/** Client options for the parsed command line. */
export function clientOptions(options: Pick<ConnectOptions, 'headers' | 'insecure' | 'timeoutMs'>): ClientOptions {
  return {
    headers: options.headers,
    handshakeTimeout: options.timeoutMs,
    tls: options.insecure ? { rejectUnauthorized: false } : undefined,
  };
}

/** Checks --protocol and --header values by the client's rules, so that mistakes are usage errors. */
export function checkClientArguments(protocols: readonly string[], headers: Record<string, string>): void {
  try {
    parseProtocols(protocols);
  } catch (error) {
    throw new UsageError(`--protocol: ${(error as Error).message} (a subprotocol is a token: letters, digits and !#$%&'*+-.^_\`|~)`);
  }
  try {
    buildRequestHeaders(headers, undefined);
  } catch (error) {
    if (error instanceof LocalProtocolError) throw new UsageError(`--header: ${error.message}`);
    throw error;
  }
}

/** Runs the command; resolves with the exit status once the connection is closed. */
export async function runConnect(argv: string[]): Promise<number> {
  const options = parseConnectOptions(argv);
  if (options === null) {
    process.stdout.write(CONNECT_HELP);
    return 0;
  }
  const ws = new WebSocket(options.url, options.protocols, clientOptions(options));
  const interactive = process.stdin.isTTY === true && !options.json;
  if (interactive) {
    return runInteractiveSession(ws, options, { input: process.stdin, output: process.stdout, errors: process.stderr });
  }
  return runJsonSession(ws, options, { input: process.stdin, output: process.stdout, errors: process.stderr });
}
