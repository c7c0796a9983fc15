// A child process holding many slow consumers of a WebSocket server on a Unix
// socket: each does the opening handshake and then never reads again. Started
// by `runSlowConsumers`; tells its parent `{ ready: n }`, exits when told.
import { rawUpgrade } from './helpers.js';
import type { RawPeer } from '../node/server-helpers.js';

const [path, countText] = process.argv.slice(2);
const count = Number(countText);
const peers: RawPeer[] = [];
const BATCH = 250;

for (let start = 0; start < count; start += BATCH) {
  const batch = await Promise.all(Array.from({ length: Math.min(BATCH, count - start) }, () => rawUpgrade({ path: path! })));
  for (const peer of batch) peer.socket.pause();
  peers.push(...batch);
}
process.send!({ ready: peers.length });
process.on('message', () => {
  for (const peer of peers) peer.destroy();
  process.exit(0);
});
