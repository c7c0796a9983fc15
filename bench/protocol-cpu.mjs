#!/usr/bin/env node
// CPU per message of the protocol core alone, in one process: a server-role
// `Connection` reads N masked binary frames (fed in 64 KiB chunks, as a socket
// would deliver them) and echoes each one through its handler, which drops the
// bytes. No sockets and no scheduler in the loop, so two builds compare on a
// busy machine where the socket benchmarks (cpu-per-message.sh) are noisy.
//
//   npm run build && node bench/protocol-cpu.mjs [--dist DIR] [--msgs 200000] [--size 1024] [--rounds 5]
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const dist = resolve(option('dist', join(fileURLToPath(new URL('.', import.meta.url)), '..', 'dist')));
const msgs = Number(option('msgs', '200000'));
const size = Number(option('size', '1024'));
const rounds = Number(option('rounds', '5'));
const { Connection } = await import(pathToFileURL(join(dist, 'protocol', 'connection.js')).href);

/** One masked binary frame of `size` bytes (size < 65536). */
function maskedFrame() {
  const header = size < 126 ? 2 : 4;
  const frame = Buffer.alloc(header + 4 + size);
  frame[0] = 0x82;
  if (size < 126) frame[1] = 0x80 | size;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(size, 2);
  }
  randomBytes(4).copy(frame, header);
  randomBytes(size).copy(frame, header + 4);
  return frame;
}

const frame = maskedFrame();
const CHUNK = 64 * 1024;
const perChunk = Math.max(1, Math.floor(CHUNK / frame.length));
const template = Buffer.concat(Array.from({ length: perChunk }, () => frame));

function round() {
  let echoed = 0;
  const handler = {
    write() {},
    writeFrame() {},
    end() {},
    message(data, binary) {
      echoed++;
      connection.sendBinary(data);
    },
  };
  const connection = new Connection({ role: 'server' }, handler);
  const start = process.cpuUsage();
  for (let sent = 0; sent < msgs; sent += perChunk) {
    // The parser unmasks in place: each chunk is a fresh copy, as from a socket.
    connection.receiveData(Buffer.from(template));
  }
  const used = process.cpuUsage(start);
  return echoed / ((used.user + used.system) / 1e6);
}

round(); // warm-up
const results = Array.from({ length: rounds }, round).sort((a, b) => a - b);
console.log(JSON.stringify({ dist, msgs, size, perCpuSecond: Math.round(results[results.length >> 1]), runs: results.map(Math.round) }));
