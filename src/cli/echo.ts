/**
 * `switchboard echo`: a plain echo server for trying clients and for
 * conformance runs. Every message comes back with its type, on any path;
 * `GET /` serves a small page that talks to it.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { DEFAULT_TLS_MIN_VERSION } from '../node/http-server.js';
import { WebSocketServer } from '../node/server.js';
import { parseCommandLine, parsePort, parseSize, UsageError } from './args.js';
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
  --tls-cert FILE       serve https and wss:// with this certificate (PEM), over
                        HTTP/2 and HTTP/1.1 on one port: WebSockets over h2 (RFC 8441)
  --tls-key FILE        the certificate's private key (PEM)
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
  /** Serve TLS with h2 and HTTP/1.1 on one port (ALPN), WebSockets over both. */
  tls?: { cert: Buffer; key: Buffer };
  log: (line: string) => void;
}

/** Starts the echo server; resolves once listening. */
export async function startEchoServer(options: EchoServerOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const http: HttpServer | Http2SecureServer =
    options.tls === undefined
      ? createServer(servePage)
      : createSecureServer({ ...options.tls, minVersion: DEFAULT_TLS_MIN_VERSION, allowHTTP1: true }, servePage);
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
    const over = req.httpVersion === '2.0' ? ' over h2' : '';
    options.log(`connected ${peer} ${req.url ?? ''}${ws.protocol ? ` (${ws.protocol})` : ''}${over}`);
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

function servePage(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(ECHO_PAGE);
    return;
  }
  res.statusCode = 426;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  // HTTP/2 forbids connection-specific fields; there a WebSocket is an extended CONNECT (RFC 8441).
  if (req.httpVersionMajor < 2) {
    res.setHeader('Upgrade', 'websocket');
    res.setHeader('Connection', 'Upgrade');
  }
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
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(ECHO_HELP);
    return;
  }
  const quiet = values.quiet ?? false;
  const tls = readTls(values['tls-cert'], values['tls-key']);
  const server = await startEchoServer({
    port: parsePort(values.port, Number(process.env.PORT ?? 8080)),
    host: values.host ?? '127.0.0.1',
    subprotocols: values.subprotocol ?? [],
    maxMessageSize: parseSize('max-message', values['max-message'], 16 * 1024 * 1024),
    maxFragments: parseSize('max-fragments', values['max-fragments'], 65536),
    deflate: values.deflate ?? false,
    tls,
    log: quiet ? () => {} : (line) => console.log(line),
  });
  const host = values.host ?? '127.0.0.1';
  const [ws, http] = tls === undefined ? ['ws', 'http'] : ['wss', 'https'];
  const h2 = tls === undefined ? '' : ' (HTTP/2 and HTTP/1.1)';
  console.log(`switchboard echo listening on ${ws}://${host}:${server.port}/${h2} — open ${http}://${host}:${server.port}/ in a browser`);
  const stop = (): void => {
    console.log('shutting down');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function readTls(cert: string | undefined, key: string | undefined): { cert: Buffer; key: Buffer } | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError('--tls-cert and --tls-key go together: give both PEM files (certificate and private key)');
  try {
    return { cert: readFileSync(cert), key: readFileSync(key) };
  } catch (error) {
    throw new UsageError(`cannot read the TLS files: ${(error as Error).message}`);
  }
}
