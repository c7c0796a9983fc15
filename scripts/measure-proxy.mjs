#!/usr/bin/env node
// What a proxy backend costs a call (docs/realtime.md §9).
//
//   node scripts/measure-proxy.mjs [--conns 10] [--seconds 5]
//
// One process: a real-time server of this tree's dist/ on a free port, a
// node:http backend on another that answers the `rpc` event at once
// ({"result":{"data":…}}), and `conns` WebSocket connections (npm `ws`,
// JSON subprotocol) that each call a method in a loop, one call at a time,
// for `seconds` s: first a local method (`rt.method`), then one with no local
// handler, which the proxy hooks POST to the backend over kept-alive
// sockets. Reported: calls answered per second, and the backend's TCP
// connections.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createProxyHooks, createRealtimeServer } from '../dist/realtime/server/index.js';

const { values } = parseArgs({ options: { conns: { type: 'string', default: '10' }, seconds: { type: 'string', default: '5' } } });
const conns = Number(values.conns);
const seconds = Number(values.seconds);

let backendConnections = 0;
const backend = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const event = JSON.parse(Buffer.concat(chunks).toString());
    const body = JSON.stringify({ result: { data: event.params } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
backend.on('connection', () => backendConnections++);
backend.listen(0, '127.0.0.1');
await once(backend, 'listening');

const proxy = createProxyHooks({ rpc: `http://127.0.0.1:${backend.address().port}/rpc` });
const rt = createRealtimeServer({ port: 0, host: '127.0.0.1', fallbackMethod: proxy.fallbackMethod, limits: { rate: false } });
rt.method('local', (params) => params);
await rt.ready();

async function open() {
  const ws = new WebSocket(`ws://127.0.0.1:${rt.port}/`, 'switchboard.v1.json', { perMessageDeflate: false });
  await once(ws, 'open');
  const waiting = new Map();
  let next = 1;
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'ping') ws.send('{"type":"pong"}');
    if (message.type === 'reply') waiting.get(message.id)?.(message);
  });
  const request = (fields) =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, (reply) => {
        waiting.delete(id);
        resolve(reply);
      });
      ws.send(JSON.stringify({ ...fields, id }));
    });
  await request({ type: 'connect' });
  return { ws, request };
}

async function run(method) {
  const clients = await Promise.all(Array.from({ length: conns }, open));
  const until = Date.now() + seconds * 1000;
  let answered = 0;
  let failed = 0;
  await Promise.all(
    clients.map(async ({ request }) => {
      while (Date.now() < until) {
        const reply = await request({ type: 'call', method, data: { n: answered } });
        if (reply.error === undefined) answered++;
        else failed++;
      }
    }),
  );
  for (const { ws } of clients) ws.close();
  return { method, callsPerSecond: Math.round(answered / seconds), failed };
}

const local = await run('local');
const before = backendConnections;
const proxied = await run('remote');
console.log(JSON.stringify({ node: process.version, conns, seconds, local, proxied, backendConnections: backendConnections - before }));
await rt.close();
proxy.close();
backend.close();
