/**
 * A small HTTP backend for the proxy hook tests: answers the POSTs of
 * Switchboard's proxy hooks with a handler per path, records every request
 * (path, headers, body) and counts the TCP connections it accepted.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the backend received. */
export interface BackendRequest {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** What a handler does: answer JSON (`json`, after `delay` ms), raw text with a status, or never answer (`hang`). */
export type BackendReply = { json: unknown; delay?: number } | { status: number; text: string } | 'hang';

export type BackendHandler = (request: BackendRequest) => BackendReply;

export interface Backend {
  /** `http://127.0.0.1:port/` */
  url: string;
  requests: BackendRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Sets the handler of `path` (e.g. '/connect'). */
  on(path: string, handler: BackendHandler): void;
  close(): Promise<void>;
}

export async function startBackend(): Promise<Backend> {
  const handlers = new Map<string, BackendHandler>();
  const requests: BackendRequest[] = [];
  const hanging: ServerResponse[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: BackendRequest = { path: req.url ?? '', method: req.method ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> };
      requests.push(request);
      const handler = handlers.get(request.path);
      const reply: BackendReply = handler === undefined ? { status: 404, text: 'no handler' } : handler(request);
      if (reply === 'hang') {
        hanging.push(res);
        return;
      }
      if ('json' in reply) {
        const body = JSON.stringify(reply.json);
        const answer = (): void => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        };
        if (reply.delay === undefined) answer();
        else setTimeout(answer, reply.delay);
      } else {
        res.writeHead(reply.status, { 'content-type': 'text/plain' });
        res.end(reply.text);
      }
    });
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    connections: () => connections,
    on: (path, handler) => handlers.set(path, handler),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port just freed). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}/`;
}
