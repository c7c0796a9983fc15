// npm `ws` under the bench contract (see bench/README.md).
// Pure JS when run with WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1 ('ws');
// with bufferutil/utf-8-validate installed and those unset: 'ws+native'.
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';
const BCAST = Buffer.from('BCAST ');

const wss = new WebSocketServer({
  port,
  host: '127.0.0.1',
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: deflate, // ws defaults: context takeover, 1 KiB threshold, zlib on the libuv pool
  clientTracking: true,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.length >= 6 && data.compare(BCAST, 0, 6, 0, 6) === 0) {
      // ws has no broadcast primitive: the usual loop, framing per client
      const rest = data.subarray(6);
      for (const client of wss.clients) if (client.readyState === 1) client.send(rest, { binary: false });
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('error', () => {});
});
