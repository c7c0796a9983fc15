// N pipelined binary echoes against 127.0.0.1:PORT, over C connections with W
// messages in flight on each: a connection sends W messages in one write and
// the next W once all W are echoed. Unlike the load generator's echo mode
// (which sends a message per echo received) the server sees the same reads
// however fast either side runs, and the count is fixed, so that a server run
// under callgrind does the same work every time. Each message is SIZE bytes (1..65535); every echo is
// checked against the payload sent. Ends
// each connection with a close frame (1000) once its share is echoed. Prints
// the count and the time taken; exits 1 on a refused upgrade, a wrong echo or
// a socket error.
//   node bench/echo-client.mjs PORT N [C=8] [W=16] [SIZE=32]
import net from 'node:net';

const [port, total, conns = 8, window = 16, size = 32] = process.argv.slice(2).map(Number);
if (!(size >= 1 && size <= 65535)) throw new Error('SIZE is 1..65535');
const REQUEST =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
const CLOSE = Buffer.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]);
const KEY = [0x37, 0xfa, 0x21, 0x3d];
const payload = Buffer.alloc(size, 0);
for (let i = 0; i < size; i++) payload[i] = (i * 7 + 11) & 0xff;
const head = size <= 125 ? Buffer.from([0x82, size]) : Buffer.from([0x82, 126, size >>> 8, size & 0xff]);
const frame = Buffer.alloc(head.length + 4 + size);
head.copy(frame);
frame[1] |= 0x80;
frame.set(KEY, head.length);
for (let i = 0; i < size; i++) frame[head.length + 4 + i] = payload[i] ^ KEY[i & 3];
const expected = Buffer.concat([head, payload]);
const REPLY = expected.length;

let echoed = 0;

function connection(share) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    let upgraded = false;
    let sent = 0;
    let received = 0;
    let rest = Buffer.alloc(0);
    const send = (k) => {
      if (k <= 0) return;
      socket.write(k === 1 ? frame : Buffer.concat(Array(k).fill(frame)));
      sent += k;
    };
    socket.on('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk) => {
      if (!upgraded) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!head.toString('latin1', 0, 12).startsWith('HTTP/1.1 101')) return reject(new Error(head.toString('latin1', 0, end)));
        upgraded = true;
        chunk = head.subarray(end + 4);
        send(Math.min(window, share));
      }
      if (received === share) return; // the server's close frame
      const data = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      let at = 0;
      let got = 0;
      while (data.length - at >= REPLY) {
        if (data.compare(expected, 0, REPLY, at, at + REPLY) !== 0) return reject(new Error(`wrong echo after ${received + got}`));
        at += REPLY;
        got++;
      }
      rest = data.subarray(at);
      received += got;
      echoed += got;
      if (received === share) socket.write(CLOSE);
      else if (received === sent) send(Math.min(window, share - sent));
    });
    socket.on('end', () => socket.end());
    socket.on('close', () => (received === share ? resolve() : reject(new Error(`closed after ${received} of ${share}`))));
    socket.on('error', reject);
  });
}

const t0 = performance.now();
try {
  const base = Math.floor(total / conns);
  await Promise.all(Array.from({ length: conns }, (_, i) => connection(base + (i < total % conns ? 1 : 0))));
} catch (error) {
  console.error(`echo-client: ${error.message} (${echoed} echoed)`);
  process.exit(1);
}
console.error(`echo-client: ${echoed} echoes over ${conns} connections (${window} in flight, ${size} B) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
