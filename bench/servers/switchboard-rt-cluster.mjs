// Switchboard's real-time server as a cluster of NODES processes (3 by default)
// behind one port, joined through Redis: a node:cluster primary
// (cluster-primary.mjs) whose workers each run switchboard-rt.mjs with
// `broker: new RedisBroker({ url: REDIS_URL })`. See bench/README.md.
//   REDIS_URL=redis://127.0.0.1:6390 PORT=9001 node bench/servers/switchboard-rt-cluster.mjs
import { runClusterPrimary } from './cluster-primary.mjs';

runClusterPrimary('switchboard-rt-cluster', new URL('./switchboard-rt.mjs', import.meta.url));
