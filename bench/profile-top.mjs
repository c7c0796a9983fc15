// Top self-time frames of a .cpuprofile, as shares of the time the process
// was busy ("(idle)", time spent waiting for events, left out):
//   node bench/profile-top.mjs FILE [N]
import fs from 'node:fs';

const profile = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const count = Number(process.argv[3] ?? 15);
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const byNode = new Map();
profile.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const frames = new Map();
let busy = 0;
let idle = 0;
for (const [id, time] of byNode) {
  const frame = nodes.get(id).callFrame;
  if (frame.functionName === '(idle)') {
    idle += time;
    continue;
  }
  const key = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
  frames.set(key, (frames.get(key) ?? 0) + time);
  busy += time;
}
console.log(`busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s`);
for (const [key, time] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, count)) {
  console.log(`${((100 * time) / busy).toFixed(1).padStart(5)}%  ${key}`);
}
