#!/usr/bin/env node
// Checks bench/loadgen against a small hand-written WebSocket server that
// misbehaves on purpose: every kind of fault must show up in loadgen's error
// counts, and a correct but awkward server (fragmented replies, pings in the
// middle of messages, permessage-deflate) must give none. The fanout and rpc
// modes run against a toy text protocol described by a profile written here.
//
//   make -C bench/loadgen && node bench/loadgen/selftest.mjs
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const LOADGEN = process.env.LOADGEN ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'loadgen');
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function frame(op, payload, { fin = true, rsv1 = false, mask = false } = {}) {
  const n = payload.length;
  const head = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 255);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A minimal server; `fault` picks the misbehaviour. */
function startServer(fault) {
  const clients = new Set();
  let count = 0; // messages over all connections: each fault happens once
  const stats = { pongs: 0 };
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let open = false;
    let closing = false;
    let deflate = false;
    let fragments = [];
    let fragOp = 0;
    let fragZ = false;
    const peer = { sock, delivered: 0 };
    const send = (op, payload, opts) => sock.write(frame(op, payload, opts));
    const sendMessage = (op, payload) => {
      let rsv1 = false;
      if (deflate && fault === 'bfinal') {
        // each message a complete stream ending in a BFINAL block (RFC 7692 allows it)
        payload = zlib.deflateRawSync(payload);
        rsv1 = true;
      } else if (deflate) {
        const z = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
        payload = z.subarray(0, z.length - 4);
        rsv1 = true;
      }
      if ((fault === 'good' || fault === 'rt-good') && payload.length >= 3) {
        // three fragments with a ping between them
        const a = Math.floor(payload.length / 3);
        send(op, payload.subarray(0, a), { fin: false, rsv1 });
        send(9, Buffer.from('hi'));
        send(0, payload.subarray(a, 2 * a), { fin: false });
        send(0, payload.subarray(2 * a), { fin: true });
        return;
      }
      send(op, payload, { rsv1 });
    };
    sock.on('error', () => {});
    sock.on('close', () => clients.delete(peer));
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)[1];
        let accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
        if (fault === 'bad-accept') accept = accept.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
        let ext = '';
        if ((fault === 'good' || fault === 'bfinal') && /sec-websocket-extensions:\s*permessage-deflate/i.test(head)) {
          deflate = true;
          ext = 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits=10\r\n';
        }
        const up = fault === 'no-upgrade' ? '' : 'Upgrade: websocket\r\n';
        const proto = /sec-websocket-protocol:\s*rt\.test/i.test(head) ? 'Sec-WebSocket-Protocol: rt.test\r\n' : '';
        sock.write(`HTTP/1.1 101 Switching Protocols\r\n${up}Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${ext}${proto}\r\n`);
        open = true;
        clients.add(peer);
        if (fault.startsWith('rt')) {
          send(1, Buffer.from('hello'));
          if (fault === 'rt-good') {
            const t = setInterval(() => (closing || sock.destroyed ? clearInterval(t) : send(1, Buffer.from('ping!'))), 20);
            sock.on('close', () => clearInterval(t));
          }
        }
      }
      for (;;) {
        if (buf.length < 2) return;
        const fin = (buf[0] & 0x80) !== 0;
        const rsv1 = (buf[0] & 0x40) !== 0;
        const op = buf[0] & 15;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (!(buf[1] & 0x80)) throw new Error('client frame not masked');
        if (buf.length < off + 4 + len) return;
        const key = buf.subarray(off, off + 4);
        const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
        buf = buf.subarray(off + 4 + len);
        if (op === 8) {
          if (!closing) send(8, payload.subarray(0, 2));
          sock.end();
          return;
        }
        if (closing) continue;
        if (op === 10) stats.pongs++;
        if (op === 9 || op === 10) continue;
        if (op !== 0) {
          fragOp = op;
          fragZ = rsv1;
          fragments = [];
        }
        fragments.push(payload);
        if (!fin) continue;
        let msg = Buffer.concat(fragments);
        // a 10-bit window: fails if the client ignored client_max_window_bits=10
        if (fragZ) msg = zlib.inflateRawSync(Buffer.concat([msg, Buffer.from([0, 0, 255, 255])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: 10 });
        count++;
        if (fault.startsWith('rt')) {
          toyProtocol(fault, peer, msg.toString(), (text) => (fault === 'rt-good' ? sendMessage(1, Buffer.from(text)) : send(1, Buffer.from(text))), clients, stats);
          continue;
        }
        if (fragOp === 1 && msg.subarray(0, 6).toString() === 'BCAST ') {
          const rest = msg.subarray(6);
          for (const c of clients) {
            c.delivered++;
            if (fault === 'bcast-drop' && c.delivered === 50 && c !== peer) continue;
            c.sock.write(frame(1, rest));
          }
          continue;
        }
        if (fault === 'corrupt' && count === 500) msg[msg.length - 1] ^= 1;
        if (fault === 'drop' && count === 500) continue;
        if (fault === 'masked' && count === 500) {
          send(fragOp, msg, { mask: true });
          continue;
        }
        if (fault === 'close' && count === 500) {
          send(8, Buffer.from([0x03, 0xe9]));
          closing = true;
          continue;
        }
        if (fault === 'rsv' && count === 500) {
          send(fragOp, msg, { rsv1: true });
          continue;
        }
        const outOp = fault === 'wrong-type' && count === 500 ? (fragOp === 1 ? 2 : 1) : fragOp;
        sendMessage(outOp, msg);
      }
    });
  });
  server.stats = stats;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The storm part of the toy protocol (STORM_PROFILE, STORM_MSGS_PROFILE): sessions, offsets, recovery. */
function toyStorm(fault, peer, s, reply, clients, stats) {
  const st = (stats.storm ??= { tokens: new Set(), sessions: new Map(), history: [], resumes: 0 });
  let m = /^hi:(tok-\d+)$/.exec(s);
  if (m) {
    st.tokens.add(m[1]);
    peer.sess = crypto.randomBytes(6).toString('hex');
    st.sessions.set(peer.sess, true);
    return reply(`ok:sess=${peer.sess}`);
  }
  if (s === 'sub') {
    peer.sub = true;
    return reply('subbed');
  }
  m = /^pub:(\d+):(.*)$/s.exec(s);
  if (m) {
    st.history.push(m[2]);
    const offset = st.history.length;
    reply(`ack:${m[1]}`);
    for (const c of clients) if (c.sub) c.sock.write(frame(1, Buffer.from(`msg:${offset}:${m[2]}`)));
    return;
  }
  m = /^resume:(tok-\d+):([0-9a-f]+):(\d+)$/.exec(s);
  if (!m) return reply(`what? ${s.slice(0, 20)}`);
  st.tokens.add(m[1]);
  st.resumes++;
  // rt-storm-lose: the server forgot one session, which starts a new one (not recovered)
  const known = st.sessions.has(m[2]) && !(fault === 'rt-storm-lose' && st.resumes === 3);
  const sess = known ? m[2] : crypto.randomBytes(6).toString('hex');
  const missed = known ? st.history.slice(Number(m[3])) : [];
  // rt-storm-skip: one reconnection misses a publication
  if (fault === 'rt-storm-skip' && st.resumes === 5) missed.splice(4, 1);
  if (fault === 'rt-storm-msgs') {
    for (const d of missed) reply(`item:${d}`);
    return reply(`resumed:${sess}`);
  }
  reply(`resumed:${sess}:[${missed.join(',')}]`);
}

/** The toy real-time protocol of PROFILE (below); faults happen once. */
function toyProtocol(fault, peer, s, reply, clients, stats) {
  if (fault.startsWith('rt-storm')) return toyStorm(fault, peer, s, reply, clients, stats);
  if (s === 'hi') return reply(fault === 'rt-script' ? 'nope' : 'ok');
  if (s === 'sub') {
    peer.sub = true;
    return reply('subbed');
  }
  if (s === 'pong!') {
    stats.pongs++;
    return;
  }
  let m = /^pub:(\d+):(.*)$/s.exec(s);
  if (m) {
    stats.pubs = (stats.pubs ?? 0) + 1;
    if (!(fault === 'rt-no-ack' && stats.pubs === 50)) reply(`ack:${m[1]}`);
    let k = 0;
    for (const c of clients) {
      if (!c.sub) continue;
      k++;
      let out = `msg:${m[2]}`;
      if (stats.pubs === 50 && k === 3) {
        if (fault === 'rt-drop') continue;
        if (fault === 'rt-corrupt') out = out.slice(0, -1) + (out.endsWith('A') ? 'B' : 'A');
        if (fault === 'rt-envelope') out = `msh:${m[2]}`;
      }
      c.sock.write(frame(1, Buffer.from(out)));
    }
    return;
  }
  m = /^req:(\d+):(.*)$/s.exec(s);
  if (m) {
    stats.reqs = (stats.reqs ?? 0) + 1;
    let out = `rep:${m[1]}:${m[2]}`;
    if (fault === 'rt-bad-id' && stats.reqs === 500) out = `rep:${Number(m[1]) + 1}:${m[2]}`;
    if (fault === 'rt-good') {
      // answer out of order: hold every other reply until the next one (or 2 ms)
      if (peer.held) {
        reply(out);
        reply(peer.held);
        peer.held = null;
        return;
      }
      if (stats.reqs % 2) {
        peer.held = out;
        setTimeout(() => {
          if (peer.held === out) {
            peer.held = null;
            reply(out);
          }
        }, 2);
        return;
      }
    }
    reply(out);
    if (fault === 'rt-dup' && stats.reqs === 500) reply(out);
    return;
  }
  reply(`what? ${s.slice(0, 20)}`);
}

const PROFILE = path.join(os.tmpdir(), `loadgen-selftest-${process.pid}.profile`);
fs.writeFileSync(
  PROFILE,
  [
    '# the toy protocol of toyProtocol()',
    'subprotocol rt.test',
    'ping ping!',
    'pong pong!',
    'init expect hello',
    'init send hi',
    'init expect ok',
    'subscribe send sub',
    'subscribe expect subbed',
    'publish pub:$I:$P',
    'publish-ack ack:$I',
    'delivery msg:$P',
    'request req:$I:$P',
    'reply rep:$I:$P',
    'ignore what? *',
    '',
  ].join('\n'),
);
// the storm mode: a session id ($3) and the last offset ($1) kept across the
// reconnection, the recovered publications in one message ($R) or one each
const STORM_COMMON = [
  'subprotocol rt.test',
  'init expect hello',
  'init send hi:$T',
  'init expect ok:sess=$3',
  'subscribe send sub',
  'subscribe expect subbed',
  'publish pub:$I:$P',
  'publish-ack ack:$I',
  'delivery msg:$1:$P',
  'resume expect hello',
  'resume send resume:$T:$3:$1',
];
const STORM_PROFILE = path.join(os.tmpdir(), `loadgen-selftest-${process.pid}.storm.profile`);
fs.writeFileSync(STORM_PROFILE, [...STORM_COMMON, 'resume expect resumed:$3:[$R]', 'recover-item $P', ''].join('\n'));
const STORM_MSGS_PROFILE = path.join(os.tmpdir(), `loadgen-selftest-${process.pid}.storm-msgs.profile`);
fs.writeFileSync(STORM_MSGS_PROFILE, [...STORM_COMMON, 'resume expect resumed:$3', 'recover-item item:$P', ''].join('\n'));
const TOKENS = path.join(os.tmpdir(), `loadgen-selftest-${process.pid}.tokens`);
fs.writeFileSync(TOKENS, Array.from({ length: 31 }, (_, i) => `tok-${i}`).join('\n') + '\n');
process.on('exit', () => {
  for (const f of [PROFILE, STORM_PROFILE, STORM_MSGS_PROFILE, TOKENS]) fs.rmSync(f, { force: true });
});

function runLoadgen(port, args) {
  return new Promise((resolve) => {
    const p = spawn(LOADGEN, [...(process.env.LG_VERBOSE ? ['-v'] : []), '-p', String(port), '--no-marks', '-d', '1', '--warmup', '0.2', '--drain-timeout', '2', ...args]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      try {
        resolve({ code, r: JSON.parse(out.trim().split('\n').pop()), err });
      } catch {
        resolve({ code, r: null, err });
      }
    });
  });
}

const echo = ['--mode', 'echo', '-c', '4', '-w', '4', '-s', '300'];
const fanout = ['--mode', 'fanout', '--profile', PROFILE, '-c', '20', '-w', '4', '-s', '64'];
const rpc = ['--mode', 'rpc', '--profile', PROFILE, '-c', '4', '-w', '2', '-s', '48'];
const storm = (profile) => ['--mode', 'storm', '--profile', profile, '--tokens', TOKENS, '-c', '30', '--recover', '7', '-s', '48'];
/** a good storm: every subscriber recovered the 7 publications, with its own token, the first time and the second */
const stormOk = (r, s) =>
  r.errors.total === 0 && r.storm_clients === 30 && r.recovered === 30 && r.recovered_publications === 30 * 7 && r.latency_us.count === 30 &&
  s.storm.resumes === 30 && s.storm.tokens.size === 31 && s.storm.history.length === 8;
const CASES = [
  ['correct server: fragmented replies, pings inside messages', 'good', echo, (r, s) => r.errors.total === 0 && r.msgs > 1000 && s.pongs > 1000],
  ['correct server, binary 70 KiB messages, client fragments', 'good', ['--mode', 'echo', '-c', '2', '-w', '2', '-s', '70k', '--binary', '--frag', '10000'], (r) => r.errors.total === 0 && r.msgs > 10],
  ['correct server, permessage-deflate (client_no_context_takeover, 10-bit window)', 'good', ['--mode', 'echo', '-c', '4', '-w', '4', '-s', '8k', '--payload', 'json', '--deflate'], (r) => r.errors.total === 0 && r.deflate_negotiated === 4 && r.msgs > 100],
  ['permessage-deflate, server messages ending in a BFINAL block', 'bfinal', ['--mode', 'echo', '-c', '4', '-w', '4', '-s', '2k', '--payload', 'json', '--deflate'], (r) => r.errors.total === 0 && r.deflate_negotiated === 4 && r.msgs > 100],
  ['one flipped byte is a mismatch', 'corrupt', echo, (r) => r.errors.mismatch === 1],
  ['a dropped echo is detected', 'drop', echo, (r) => r.errors.mismatch + r.errors.timeout >= 1],
  ['a wrong message type is a mismatch', 'wrong-type', echo, (r) => r.errors.mismatch === 1],
  ['a masked server frame is a protocol error', 'masked', echo, (r) => r.errors.protocol === 1],
  ['RSV1 without an extension is a protocol error', 'rsv', echo, (r) => r.errors.protocol === 1],
  ['a close from the server mid-run counts', 'close', echo, (r) => r.errors.closed === 1],
  ['a wrong Sec-WebSocket-Accept fails every handshake', 'bad-accept', echo, (r) => r.errors.handshake === 4 && r.established === 0],
  ['a missing Upgrade header fails every handshake', 'no-upgrade', echo, (r) => r.errors.handshake === 4],
  ['broadcast: correct server', 'good', ['--mode', 'broadcast', '-c', '20', '-w', '4', '-s', '64'], (r) => r.errors.total === 0 && r.broadcasts > 50],
  ['broadcast: a lost delivery is an order error', 'bcast-drop', ['--mode', 'broadcast', '-c', '20', '-w', '4', '-s', '64'], (r) => r.errors.order >= 1],
  // two processes, one window: each broadcast completes once all 21 clients of both processes have it
  ['broadcast: two processes share one window', 'good', ['--mode', 'broadcast', '-c', '20', '-w', '4', '-s', '64', '--procs', '2'], (r) => r.procs === 2 && r.errors.total === 0 && r.broadcasts > 50 && Math.abs(r.msgs - 21 * r.broadcasts) <= 4 * 21],
  ['broadcast, two processes: a lost delivery is an order error', 'bcast-drop', ['--mode', 'broadcast', '-c', '20', '-w', '4', '-s', '64', '--procs', '2'], (r) => r.procs === 2 && r.errors.order >= 1],
  ['connect: handshake + close handshake loops', 'good', ['--mode', 'connect', '-c', '4'], (r) => r.errors.total === 0 && r.handshakes > 20],
  ['idle: hold and close', 'good', ['--mode', 'idle', '-c', '50', '-H', '0.5'], (r) => r.errors.total === 0 && r.held === 50],
  ['fanout: correct server (script, subprotocol, pings, fragments)', 'rt-good', [...fanout], (r, s) => r.errors.total === 0 && r.publications > 50 && r.publish_acks > 50 && Math.abs(r.deliveries - 20 * r.publications) <= 4 * 20 && s.pongs > 20],
  ['fanout: two processes share one window', 'rt-good', [...fanout, '--procs', '2'], (r) => r.procs === 2 && r.errors.total === 0 && r.publications > 50 && Math.abs(r.deliveries - 20 * r.publications) <= 4 * 20],
  ['fanout: a lost delivery is an order error', 'rt-drop', fanout, (r) => r.errors.order === 1],
  ['fanout: a changed payload byte is a mismatch', 'rt-corrupt', fanout, (r) => r.errors.mismatch === 1],
  ['fanout: a wrong envelope is a mismatch', 'rt-envelope', fanout, (r) => r.errors.mismatch === 1],
  ['fanout: a missing publish ack is an order error', 'rt-no-ack', fanout, (r) => r.errors.order === 1],
  ['a profile script step that does not match fails the connection', 'rt-script', rpc, (r) => r.errors.handshake === 4 && r.established === 0],
  ['rpc: correct server, replies out of order', 'rt-good', ['--mode', 'rpc', '--profile', PROFILE, '-c', '4', '-w', '4', '-s', '40'], (r) => r.errors.total === 0 && r.round_trips > 1000],
  ['rpc: a duplicate reply is a mismatch', 'rt-dup', rpc, (r) => r.errors.mismatch === 1],
  ['rpc: a reply with the wrong id is a mismatch', 'rt-bad-id', rpc, (r) => r.errors.mismatch === 1],
  ['storm: correct server, recovered publications in the reply ($R)', 'rt-storm', storm(STORM_PROFILE), stormOk],
  ['storm: correct server, recovered publications as messages', 'rt-storm-msgs', storm(STORM_MSGS_PROFILE), stormOk],
  ['storm: a session the server forgot is a recovery error', 'rt-storm-lose', storm(STORM_PROFILE), (r) => r.errors.recovery === 1 && r.recovered === 29],
  ['storm: a missing recovered publication is an error', 'rt-storm-skip', storm(STORM_PROFILE), (r) => r.errors.total === 1 && r.errors.recovery === 1 && r.recovered === 29],
];

let passed = 0;
let failed = 0;
for (const [name, fault, args, check] of CASES) {
  const server = await startServer(fault);
  const { code, r, err } = await runLoadgen(server.address().port, args);
  server.close();
  const ok = r !== null && check(r, server.stats);
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `\n     exit ${code}: ${r ? JSON.stringify({ msgs: r.msgs, established: r.established, errors: r.errors }) : ''} ${err.trim().split('\n').slice(0, 5).join(' | ')}`}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
