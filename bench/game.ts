/**
 * Measures the /game arena with bot players (README, "Demo apps", quotes its
 * output):
 *
 *   node --import tsx bench/game.ts [bots=50] [seconds=10] [spectators=10]
 *
 * 1. The simulation alone: world step, bots and packing of one tick, in µs,
 *    over 20,000 ticks (no I/O).
 * 2. The arena on a real-time server on loopback, ticking at 20 Hz, with
 *    `spectators` MessagePack WebSocket clients subscribed: the server's tick
 *    time (simulation, packing, publishing until the in-memory broker took
 *    the frame, which includes the fan-out: GameServer's own meter, per
 *    second), the bytes of a frame, the bytes each spectator reads from its
 *    socket per tick, and the gaps between frames as a spectator receives
 *    them (smooth means close to 50 ms, every time).
 */
import type { Socket } from 'node:net';
import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { createRealtimeServer } from '../src/realtime/server/index.js';
import type { DemoApi } from '../src/cli/apps/web/api.js';
import { packItems, packPlayers, type GameStats } from '../src/cli/apps/web/game-api.js';
import { DEMO_SCHEMAS } from '../src/cli/apps/schemas.js';
import { GameBots } from '../src/cli/game-bots.js';
import { GameServer } from '../src/cli/game-server.js';
import { GameWorld } from '../src/cli/game-world.js';
import { demoNamespaces } from '../src/cli/serve-config.js';

const bots = Number(process.argv[2] ?? 50);
const seconds = Number(process.argv[3] ?? 10);
const spectatorCount = Number(process.argv[4] ?? 10);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function simulation(): void {
  const world = new GameWorld({ seed: 1 });
  const players = new GameBots(world);
  players.add(bots);
  const ticks = 20_000;
  const started = performance.now();
  let bytes = 0;
  for (let i = 0; i < ticks; i++) {
    players.steer();
    world.step();
    bytes += packPlayers(world.playerStates()).byteLength + packItems(world.items).byteLength;
  }
  const micros = ((performance.now() - started) * 1000) / ticks;
  console.log(`simulation: ${bots} bots, ${ticks} ticks: ${micros.toFixed(1)} µs per tick (step, bots, packing); ${(bytes / ticks).toFixed(0)} packed bytes per tick`);
}

interface Spectator {
  ws: WebSocket;
  socket: Socket;
  arrivals: number[];
}

async function spectate(url: string, channel: string): Promise<Spectator> {
  const ws = new WebSocket(url, ['switchboard.v1.msgpack']);
  let socket: Socket | undefined;
  ws.on('upgrade', (response) => (socket = response.socket as Socket));
  const arrivals: number[] = [];
  let subscribed = false;
  ws.on('message', (data: Buffer) => {
    const message = decode(data) as { type?: string; id?: number };
    if (message.id === 2) subscribed = true;
    if (message.type === 'publication') arrivals.push(performance.now());
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(encode({ type: 'connect', id: 1 }));
  ws.send(encode({ type: 'subscribe', id: 2, channel }));
  while (!subscribed) await new Promise((resolve) => setTimeout(resolve, 10));
  return { ws, socket: socket!, arrivals };
}

async function served(): Promise<void> {
  const rt = createRealtimeServer<DemoApi>({ port: 0, host: '127.0.0.1', namespaces: demoNamespaces(1), schemas: DEMO_SCHEMAS });
  await rt.ready();
  const game = new GameServer(rt, { bots, tickRate: 20 });
  game.start();
  const url = `ws://127.0.0.1:${rt.port}/`;
  const spectators = await Promise.all(Array.from({ length: spectatorCount }, () => spectate(url, game.channel)));
  // Let the arena start (it looks for subscribers twice a second) and settle.
  while (!game.running) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const samples: GameStats[] = [];
  const sampler = setInterval(() => samples.push(game.stats), 1000);
  const startTick = game.world.tick;
  const read = spectators.map((spectator) => spectator.socket.bytesRead);
  const from = spectators.map((spectator) => spectator.arrivals.length);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(sampler);
  const ticks = game.world.tick - startTick;
  const bytesPerTick = spectators.map((spectator, i) => (spectator.socket.bytesRead - read[i]!) / ticks);
  const gaps = spectators.flatMap((spectator, i) => spectator.arrivals.slice(from[i]!).map((at, k, all) => (k === 0 ? Number.NaN : at - all[k - 1]!)).filter((gap) => !Number.isNaN(gap)));
  gaps.sort((a, b) => a - b);
  const withRoster = encode(game.frame(true, true)).byteLength;
  const mean = samples.reduce((sum, sample) => sum + sample.tickMs, 0) / samples.length;
  const max = Math.max(...samples.map((sample) => sample.maxTickMs));
  console.log(`server: ${bots} bots, ${spectatorCount} spectators, ${ticks} ticks in ${seconds} s (${(ticks / seconds).toFixed(1)} Hz)`);
  console.log(`  tick time (step, bots, packing, publishing and fan-out to ${spectatorCount}): mean ${mean.toFixed(3)} ms, max ${max.toFixed(3)} ms (budget ${1000 / game.tickRate} ms)`);
  console.log(`  frame: ${game.stats.frameBytes} bytes (MessagePack, without roster); ${withRoster} bytes with the roster (once a second)`);
  console.log(`  read by each spectator: ${(bytesPerTick.reduce((a, b) => a + b, 0) / bytesPerTick.length).toFixed(0)} bytes per tick (WebSocket frames, roster seconds included)`);
  console.log(`  gaps between frames at a spectator: p50 ${percentile(gaps, 50).toFixed(1)} ms, p99 ${percentile(gaps, 99).toFixed(1)} ms, max ${gaps[gaps.length - 1]!.toFixed(1)} ms`);
  for (const spectator of spectators) spectator.ws.close();
  game.stop();
  await rt.close();
}

simulation();
await served();
