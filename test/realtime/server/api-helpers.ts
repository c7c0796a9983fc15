// A real-time server attached to an HTTP server that also serves the server
// API (`rt.api`), for the tests of docs/server-api.md; and a small client of
// the API over fetch.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRealtimeServer, type RealtimeServer, type RealtimeServerOptions } from '../../../src/realtime/server/index.js';

export const API_KEY = 'test-api-key-0123456789abcdef';

/** An API answer: its HTTP status and JSON body. */
export interface ApiAnswer {
  status: number;
  body: { result?: Record<string, unknown>; error?: { code: string; message: string } };
}

export interface ApiServer {
  rt: RealtimeServer;
  http: Server;
  /** http://127.0.0.1:port */
  base: string;
  /** ws://127.0.0.1:port/ */
  url: string;
  /** POSTs `params` (an object, or raw text) to /api/<method> with the key. */
  call(method: string, params?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  close(): Promise<void>;
}

/** POSTs to an API at `base`. */
export async function callApi(base: string, method: string, params: unknown = {}, headers: Record<string, string> = { 'X-API-Key': API_KEY }): Promise<ApiAnswer> {
  const response = await fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof params === 'string' ? params : JSON.stringify(params),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as ApiAnswer['body'] };
}

/** Starts a real-time server on a new HTTP server, with the API mounted at /api. */
export async function startApiServer(
  options: Omit<RealtimeServerOptions, 'port' | 'server' | 'noServer'> = {},
  api: { maxBodySize?: number } = {},
): Promise<ApiServer> {
  const http = createServer();
  const rt = createRealtimeServer({ ...options, server: http });
  const handler = rt.api({ key: API_KEY, ...api });
  // The HTTP fallback transport sees its own requests before these listeners (the real-time server mounts it).
  http.on('request', (request, response) => {
    if (!handler(request, response)) response.writeHead(404).end();
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  await rt.ready();
  const port = (http.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    rt,
    http,
    base,
    url: `ws://127.0.0.1:${port}/`,
    call: (method, params, headers) => callApi(base, method, params, headers === undefined ? { 'X-API-Key': API_KEY } : headers),
    async close() {
      await rt.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** The connect data that makes a user of the test servers' `authenticate`. */
export function userAuth(): RealtimeServerOptions['auth'] {
  return {
    anonymous: true,
    authenticate: ({ data }) => {
      const user = typeof data === 'object' && data !== null ? (data as { user?: unknown }).user : undefined;
      return { user: typeof user === 'string' ? user : '' };
    },
  };
}
