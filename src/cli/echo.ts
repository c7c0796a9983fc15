/**
 * `switchboard echo`: a plain echo server for trying clients and for
 * conformance runs. Every message comes back with its type, on any path;
 * `GET /` serves a small page that talks to it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../node/server.js';
import { parseCommandLine, parsePort, parseSize } from './args.js';
import { ECHO_PAGE } from './echo-page.js';

export const ECHO_HELP = `Usage: switchboard echo [options]

An echo server: every WebSocket message is sent back with its type (text or
binary), on any path. GET / serves a page that talks to it.

Options:
  --port N              port to listen on (default 8080; 0 picks a free one)
  --host ADDR           address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --subprotocol NAME    accept this subprotocol when offered (repeatable)
  --max-message BYTES   largest message accepted (default 16m; k and m suffixes)
  --max-fragments N     most frames in one message (default 65536)
  --deflate             negotiate permessage-deflate (RFC 7692) when offered
  --quiet               do not log connections
  -h, --help            show this help
`;

export interface EchoServerOptions {
  port: number;
  host: string;
  subprotocols: string[];
  maxMessageSize: number;
  maxFragments: number;
  /** Negotiate permessage-deflate when offered. Default false. */
  deflate?: boolean;
  log: (line: string) => void;
}

/** Starts the echo server; resolves once listening. */
export async function startEchoServer(options: EchoServerOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const http = createServer(servePage);
  const wss = new WebSocketServer({
    server: http,
    subprotocols: options.subprotocols,
    maxMessageSize: options.maxMessageSize,
    maxFrameSize: options.maxMessageSize,
    maxFragments: options.maxFragments,
    perMessageDeflate: options.deflate ?? false,
  });
  wss.on('connection', (ws, req) => {
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    options.log(`connected ${peer} ${req.url ?? ''}${ws.protocol ? ` (${ws.protocol})` : ''}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => options.log(`closed ${peer} ${code}${reason ? ` ${reason}` : ''}`));
    ws.on('error', (error) => options.log(`error ${peer} ${error.message}`));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  return {
    port,
    close: async () => {
      await wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function servePage(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(ECHO_PAGE);
    return;
  }
  res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket', Connection: 'Upgrade' });
  res.end('This is a WebSocket echo endpoint: connect with a WebSocket client, or open / in a browser.\n');
}

/** Runs the command; resolves when the server is up (it keeps running). */
export async function runEcho(argv: string[]): Promise<void> {
  const { values } = parseCommandLine(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    subprotocol: { type: 'string', multiple: true },
    'max-message': { type: 'string' },
    'max-fragments': { type: 'string' },
    deflate: { type: 'boolean' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(ECHO_HELP);
    return;
  }
  const quiet = values.quiet ?? false;
  const server = await startEchoServer({
    port: parsePort(values.port, Number(process.env.PORT ?? 8080)),
    host: values.host ?? '127.0.0.1',
    subprotocols: values.subprotocol ?? [],
    maxMessageSize: parseSize('max-message', values['max-message'], 16 * 1024 * 1024),
    maxFragments: parseSize('max-fragments', values['max-fragments'], 65536),
    deflate: values.deflate ?? false,
    log: quiet ? () => {} : (line) => console.log(line),
  });
  const host = values.host ?? '127.0.0.1';
  console.log(`switchboard echo listening on ws://${host}:${server.port}/ — open http://${host}:${server.port}/ in a browser`);
  const stop = (): void => {
    console.log('shutting down');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
