// N WebSocket handshakes against 127.0.0.1:PORT, K at a time, each the
// load generator's connect cycle: TCP connect, upgrade, a close frame (1000),
// the server's close frame and FIN, then the client's FIN. Prints the count
// and the time taken; exits 1 on a refused upgrade or a socket error.
//   node bench/handshake-client.mjs PORT N K
import net from 'node:net';

const [port, total, parallel] = process.argv.slice(2).map(Number);
const REQUEST =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
// A masked close frame with code 1000.
const CLOSE = Buffer.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]);
let started = 0;
let done = 0;

function cycle() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let head = Buffer.alloc(0);
    let upgraded = false;
    socket.on('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk) => {
      if (upgraded) return;
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!head.toString('latin1', 0, 12).startsWith('HTTP/1.1 101')) reject(new Error(head.toString('latin1', 0, end)));
      upgraded = true;
      socket.write(CLOSE);
    });
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      done++;
      resolve();
    });
    socket.on('error', reject);
  });
}

async function loop() {
  while (started < total) {
    started++;
    await cycle();
  }
}

const t0 = performance.now();
try {
  await Promise.all(Array.from({ length: parallel }, loop));
} catch (error) {
  console.error(`handshake-client: ${error.message}`);
  process.exit(1);
}
console.log(`${done} handshakes in ${(performance.now() - t0).toFixed(0)} ms`);
