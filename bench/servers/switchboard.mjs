// Switchboard's WebSocketServer under the bench contract (see bench/README.md).
// Needs the build: npm run build (npm run bench does it).
import net from 'node:net';
import { WebSocketServer } from '../../dist/node/server-index.js';

const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';
const BCAST = Buffer.from('BCAST ');

// SB_OPTIONS=defaults: the server's default options (heartbeat, idle timeout,
// buffered-bytes cap, 1 MiB messages), to measure what the safe defaults cost.
// SB_OPTIONS=off: every guard that can be turned off is off (heartbeat, idle
// timeout, ping limit, per-address and pending-handshake caps; buffered-bytes
// cap and message size as large as tuned), the baseline the defaults' cost is
// measured against. Anything else: tuned.
const TUNED = {
  port,
  host: '127.0.0.1',
  maxMessageSize: 64 * 1024 * 1024,
  heartbeatInterval: 0, // no pings during a run
  maxBufferedAmount: 256 * 1024 * 1024,
};
const OFF = { ...TUNED, idleTimeout: 0, maxPingsPerSecond: 0, maxConnectionsPerIp: 0, maxPendingHandshakes: 0 };
const options = process.env.SB_OPTIONS === 'defaults' ? { port, host: '127.0.0.1' } : process.env.SB_OPTIONS === 'off' ? OFF : TUNED;
if (deflate) options.perMessageDeflate = true;
// SB_RAW_SOCKET=0: standalone on Node's http.Server (its 'upgrade' event)
// instead of the raw-socket path, to compare the two.
if (process.env.SB_RAW_SOCKET === '0') options.rawSocket = false;

let wss;
try {
  wss = new WebSocketServer(options);
} catch (error) {
  if (deflate && /deflate/i.test(String(error?.message))) {
    console.error(`switchboard: perMessageDeflate rejected: ${error.message}`);
    process.exit(3);
  }
  throw error;
}

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.length >= 6 && data.compare(BCAST, 0, 6, 0, 6) === 0) {
      wss.broadcast(data.subarray(6), { binary: false }); // framed once
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('error', () => {});
});

await wss.ready();

// An option the server silently ignores is as good as unsupported: check that
// a handshake offering permessage-deflate really gets it, or exit 3 (n/a).
if (deflate && !(await negotiatesDeflate(port))) {
  console.error('switchboard: perMessageDeflate is not negotiated by this build');
  process.exit(3);
}

function negotiatesDeflate(p) {
  return new Promise((resolve) => {
    const socket = net.connect(p, '127.0.0.1');
    let head = '';
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(5000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () =>
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
      ),
    );
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = head.slice(0, end).split('\r\n');
      const ok =
        /^HTTP\/1\.1 101/.test(lines[0]) &&
        lines.some((l) => /^sec-websocket-extensions:\s*permessage-deflate/i.test(l));
      done(ok);
    });
  });
}
