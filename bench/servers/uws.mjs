// uWebSockets.js (npm @trufflesuite/uws-js-unofficial, installed as
// 'uWebSockets.js') under the bench contract (see bench/README.md).
// Broadcast goes through its pub/sub: app.publish frames once for all.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const uWS = require('uWebSockets.js');

const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';
const TOPIC = 'all';

const app = uWS.App();
app.ws('/*', {
  compression: deflate ? uWS.SHARED_COMPRESSOR : uWS.DISABLED,
  maxPayloadLength: 64 * 1024 * 1024,
  maxBackpressure: 256 * 1024 * 1024,
  idleTimeout: 0, // no idle time-outs during a run
  sendPingsAutomatically: false,
  open: (ws) => {
    ws.subscribe(TOPIC);
  },
  message: (ws, message, isBinary) => {
    if (!isBinary && message.byteLength >= 6 && isBcast(message)) {
      app.publish(TOPIC, message.slice(6), false); // everyone, the sender included
    } else {
      ws.send(message, isBinary, deflate);
    }
  },
});

function isBcast(ab) {
  const b = new Uint8Array(ab, 0, 6);
  return b[0] === 0x42 && b[1] === 0x43 && b[2] === 0x41 && b[3] === 0x53 && b[4] === 0x54 && b[5] === 0x20;
}

app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`uws: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
});
