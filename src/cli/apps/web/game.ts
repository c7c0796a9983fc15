/**
 * The multiplayer game (/apps/game.js): joins the server's arena
 * (`game.join`, with the seat this tab kept, to come back as the same
 * player after a reload or a reconnect), follows its frames — MessagePack,
 * so this page speaks MessagePack — and draws them on a canvas between the
 * last two (game-interpolation.ts), so that movement is smooth at any frame
 * rate. Steering goes to
 * the server as `game.input` (at most one per tick, only when it changed).
 */
import { formatBytes } from './charts.js';
import { byId, connectDemo, element, type DemoClient } from './common.js';
import {
  ARENA_HEIGHT,
  ARENA_WIDTH,
  ITEM_RADIUS,
  PLAYER_RADIUS,
  isGameFrame,
  isGameJoined,
  unpackItems,
  unpackPlayers,
  type GameFrame,
  type GameInput,
  type GameStats,
  type ItemState,
  type PlayerState,
} from './game-api.js';
import { blend, tickProgress } from './game-interpolation.js';
import { userInfoOf, userTag } from './guards.js';

/** Where this tab keeps its seat: a reload comes back as the same player, another tab is another player. */
const SEAT_KEY = 'switchboard-game-seat';
/** How often the scoreboard is redrawn (ms). */
const SCORES_INTERVAL = 250;
/** Pointer distance (arena units) at which the player goes full speed, and below which it stops. */
const FULL_SPEED_DISTANCE = 160;
const DEAD_ZONE = 6;
/** An input is sent again when it changed by more than this. */
const INPUT_EPSILON = 0.03;
/** Smallest label size on screen, in CSS pixels. */
const LABEL_PX = 10;

interface Snapshot {
  tick: number;
  players: Map<number, PlayerState>;
  items: ItemState[];
  /** When it arrived (performance.now()). */
  at: number;
}

interface Person {
  name: string;
  color: string;
  user: string;
}

const roster = new Map<number, Person>();
let previous: Snapshot | null = null;
let current: Snapshot | null = null;
let ownPlayer: number | null = null;
let tickInterval = 50;
let stats: GameStats | null = null;
let channel: string | null = null;
/** The pointer on the arena, in arena units (null: not over it), and the keys held. */
let pointer: { x: number; y: number } | null = null;
const keys = new Set<string>();
let lastSent: GameInput = { x: 0, y: 0 };
let lastSentAt = 0;
/** CSS pixels per arena unit, as last drawn. */
let labelScale = 1;

function snapshotOf(frame: GameFrame): Snapshot {
  const players = new Map<number, PlayerState>();
  for (const player of unpackPlayers(frame.players)) players.set(player.id, player);
  return { tick: frame.tick, players, items: unpackItems(frame.items), at: performance.now() };
}

function onFrame(frame: GameFrame): void {
  if (current !== null && frame.tick <= current.tick) return;
  if (frame.roster !== undefined) {
    roster.clear();
    for (const entry of frame.roster) {
      const info = userInfoOf({ user: entry.user, info: { name: entry.name, color: entry.color } });
      roster.set(entry.id, { name: info.name, color: info.color, user: entry.user });
    }
  }
  if (frame.stats !== undefined) stats = frame.stats;
  const next = snapshotOf(frame);
  // From where each player is drawn now (not where the last state put it), so that an early or late state never makes anyone jump.
  previous = current === null ? null : { ...current, players: blend(previous?.players ?? null, current.players, tickProgress(next.at, current.at, tickInterval)) };
  current = next;
  document.body.dataset.tick = String(frame.tick);
}

function fitCanvas(canvas: HTMLCanvasElement): number {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  return (width / ARENA_WIDTH) * ratio;
}

function drawArena(): void {
  const canvas = byId<HTMLCanvasElement>('arena');
  const context = canvas.getContext('2d');
  if (context === null) return;
  const scale = fitCanvas(canvas);
  labelScale = canvas.clientWidth / ARENA_WIDTH || 1;
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.fillStyle = '#f8fafc';
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.setTransform(scale, 0, 0, scale, 0, 0);
  drawGrid(context);
  if (current === null) return;
  const alpha = tickProgress(performance.now(), current.at, tickInterval);
  context.fillStyle = '#f5b301';
  context.strokeStyle = '#b7791f';
  context.lineWidth = 2;
  for (const item of current.items) {
    context.beginPath();
    context.arc(item.x, item.y, ITEM_RADIUS, 0, 2 * Math.PI);
    context.fill();
    context.stroke();
  }
  const players = [...blend(previous?.players ?? null, current.players, alpha).values()];
  // Our own player last, on top.
  players.sort((a, b) => Number(a.id === ownPlayer) - Number(b.id === ownPlayer));
  for (const player of players) drawPlayer(context, player);
}

function drawGrid(context: CanvasRenderingContext2D): void {
  context.strokeStyle = '#e2e8f0';
  context.lineWidth = 1;
  context.beginPath();
  for (let x = 100; x < ARENA_WIDTH; x += 100) {
    context.moveTo(x, 0);
    context.lineTo(x, ARENA_HEIGHT);
  }
  for (let y = 100; y < ARENA_HEIGHT; y += 100) {
    context.moveTo(0, y);
    context.lineTo(ARENA_WIDTH, y);
  }
  context.stroke();
}

function drawPlayer(context: CanvasRenderingContext2D, player: PlayerState): void {
  const person = roster.get(player.id);
  const own = player.id === ownPlayer;
  context.globalAlpha = player.away ? 0.35 : 1;
  if (own) {
    context.fillStyle = 'rgba(79, 70, 229, 0.18)';
    context.beginPath();
    context.arc(player.x, player.y, PLAYER_RADIUS * 2.2, 0, 2 * Math.PI);
    context.fill();
  }
  context.fillStyle = person?.color ?? '#667085';
  context.beginPath();
  // A ship: a dart pointing where it heads.
  const { x, y, heading } = player;
  const r = PLAYER_RADIUS;
  context.moveTo(x + Math.cos(heading) * r * 1.3, y + Math.sin(heading) * r * 1.3);
  context.lineTo(x + Math.cos(heading + 2.4) * r, y + Math.sin(heading + 2.4) * r);
  context.lineTo(x + Math.cos(heading + Math.PI) * r * 0.45, y + Math.sin(heading + Math.PI) * r * 0.45);
  context.lineTo(x + Math.cos(heading - 2.4) * r, y + Math.sin(heading - 2.4) * r);
  context.closePath();
  context.fill();
  if (own) {
    context.strokeStyle = '#1e1b4b';
    context.lineWidth = 3;
    context.stroke();
  }
  // Labels at least LABEL_PX on screen, whatever the canvas's size.
  const size = Math.max(20, LABEL_PX / labelScale);
  context.font = `${own ? 'bold ' : ''}${Math.round(size)}px system-ui, sans-serif`;
  context.textAlign = 'center';
  context.fillStyle = '#1f2937';
  const label = `${person?.name ?? '…'}${player.away ? ' (away)' : ''}`;
  context.fillText(label, x, y - r - size / 2);
  context.globalAlpha = 1;
}

function frameLoop(): void {
  drawArena();
  requestAnimationFrame(frameLoop);
}

/** The scoreboard: every player by score, ours marked; `data-*` carry positions (also read by the tests). */
function drawScores(): void {
  if (current === null) return;
  const list = byId<HTMLOListElement>('scores');
  const players = [...current.players.values()].sort((a, b) => b.score - a.score || a.id - b.id);
  const items = players.map((player) => {
    const person = roster.get(player.id);
    const item = element('li', player.id === ownPlayer ? 'you' : '');
    item.dataset.player = String(player.id);
    item.dataset.x = player.x.toFixed(1);
    item.dataset.y = player.y.toFixed(1);
    item.dataset.score = String(player.score);
    if (player.away) item.dataset.away = 'true';
    const swatch = element('span', 'swatch');
    swatch.style.setProperty('--c', person?.color ?? '#667085');
    const name = element('span', 'name', person?.name ?? '…');
    if (person !== undefined && person.user !== '') name.append(element('span', 'tag', userTag(person.user)));
    if (player.id === ownPlayer) name.append(element('span', 'you-mark', ' (you)'));
    if (player.away) name.append(element('span', 'away-mark', ' away'));
    item.append(swatch, name, element('span', 'score', String(player.score)));
    return item;
  });
  list.replaceChildren(...items);
  const humans = players.filter((player) => !player.bot).length;
  setFigure('players', `${players.length}`, `${humans} ${humans === 1 ? 'person' : 'people'}, ${players.length - humans} bots`);
  if (stats !== null) {
    setFigure('tick', `${stats.tickMs.toFixed(2)} ms`, `max ${stats.maxTickMs.toFixed(2)} ms, every ${Math.round(tickInterval)} ms`);
    setFigure('frame', formatBytes(stats.frameBytes), 'MessagePack, per tick');
  }
  const own = ownPlayer === null ? undefined : current.players.get(ownPlayer);
  const rank = players.findIndex((player) => player.id === ownPlayer) + 1;
  byId('you').textContent = own === undefined ? 'joining…' : `You: ${roster.get(own.id)?.name ?? '…'}, ${own.score} ${own.score === 1 ? 'point' : 'points'}, #${rank} of ${players.length}`;
  byId('game-meta').textContent = `${players.length} ${players.length === 1 ? 'player' : 'players'} · tick ${current.tick}`;
}

function setFigure(id: string, value: string, title: string): void {
  const figure = byId(`figure-${id}`);
  figure.querySelector('dd')!.textContent = value;
  figure.title = title;
}

/** Where the player wants to go: the keys held, else towards the pointer. */
function desiredInput(): GameInput {
  let x = 0;
  let y = 0;
  if (keys.has('ArrowLeft') || keys.has('a')) x -= 1;
  if (keys.has('ArrowRight') || keys.has('d')) x += 1;
  if (keys.has('ArrowUp') || keys.has('w')) y -= 1;
  if (keys.has('ArrowDown') || keys.has('s')) y += 1;
  if (x !== 0 || y !== 0) {
    const length = Math.hypot(x, y);
    return { x: x / length, y: y / length };
  }
  const own = ownPlayer === null ? undefined : current?.players.get(ownPlayer);
  if (pointer === null || own === undefined) return { x: 0, y: 0 };
  const dx = pointer.x - own.x;
  const dy = pointer.y - own.y;
  const distance = Math.hypot(dx, dy);
  if (distance < DEAD_ZONE) return { x: 0, y: 0 };
  const speed = Math.min(1, distance / FULL_SPEED_DISTANCE) / distance;
  return { x: dx * speed, y: dy * speed };
}

/** Sends the input when it changed (or once a second), at most once a tick, only while connected and playing. */
function sendInput(client: DemoClient): void {
  if (client.state !== 'connected' || ownPlayer === null) return;
  const input = desiredInput();
  const changed = Math.abs(input.x - lastSent.x) > INPUT_EPSILON || Math.abs(input.y - lastSent.y) > INPUT_EPSILON;
  const now = performance.now();
  if (!changed && now - lastSentAt < 1000) return;
  lastSent = input;
  lastSentAt = now;
  client.call('game.input', { x: Math.round(input.x * 1000) / 1000, y: Math.round(input.y * 1000) / 1000 }).catch((error: unknown) => {
    // Refused (rate_limited while the tab catches up) or lost with the connection: the next input follows.
    lastSentAt = 0;
    // The arena no longer knows this player, although this connection
    // stayed: under `serve --workers N` the arena's worker restarted. Join
    // the new arena.
    if (errorCode(error) === 'forbidden') joinSoon(client);
  });
}

function watchControls(): void {
  const canvas = byId<HTMLCanvasElement>('arena');
  const place = (event: PointerEvent): void => {
    const box = canvas.getBoundingClientRect();
    pointer = { x: ((event.clientX - box.left) / box.width) * ARENA_WIDTH, y: ((event.clientY - box.top) / box.height) * ARENA_HEIGHT };
  };
  canvas.addEventListener('pointermove', place);
  canvas.addEventListener('pointerdown', place);
  canvas.addEventListener('pointerleave', () => (pointer = null));
  canvas.addEventListener('pointercancel', () => (pointer = null));
  const steering = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'a', 'd', 'w', 's']);
  window.addEventListener('keydown', (event) => {
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (!steering.has(key) || (event.target as HTMLElement).closest('input, textarea, dialog') !== null) return;
    keys.add(key);
    event.preventDefault();
  });
  window.addEventListener('keyup', (event) => keys.delete(event.key.length === 1 ? event.key.toLowerCase() : event.key));
  window.addEventListener('blur', () => keys.clear());
}

function showStatus(client: DemoClient): void {
  const status = byId('game-status');
  const render = (): void => {
    const connected = client.state === 'connected';
    status.hidden = connected;
    status.textContent = connected ? '' : 'Connection lost: reconnecting… your player waits for you.';
  };
  client.on('state', render);
  render();
}

/**
 * Join failures that pass: the arena's worker is starting or restarting
 * (`unavailable`), or the arena did not answer in time.
 */
const PASSING_JOIN_ERRORS = new Set(['unavailable', 'timeout', 'internal']);
/** Waits between two tries of a join that failed for a passing reason (ms): doubled each time, up to the last. */
const JOIN_RETRY_DELAYS = [500, 1000, 2000, 4000];

let joining = false;

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Joins unless a join is already under way, and tries again while the
 * connection stays and the failure is one that passes. A dropped
 * connection ends the tries: its 'connected' joins again.
 */
function joinSoon(client: DemoClient): void {
  if (joining) return;
  joining = true;
  void (async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await join(client);
        return;
      } catch (error) {
        const code = errorCode(error);
        byId('game-meta').textContent = `could not join: ${(error as Error).message}`;
        if (code === undefined || !PASSING_JOIN_ERRORS.has(code) || client.state !== 'connected') return;
        const delay = JOIN_RETRY_DELAYS[Math.min(attempt, JOIN_RETRY_DELAYS.length - 1)]!;
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (client.state !== 'connected') return;
      }
    }
  })().finally(() => {
    joining = false;
  });
}

/** Joins (again) with this tab's seat; subscribes to the arena's channel the first time. */
async function join(client: DemoClient): Promise<void> {
  const seat = sessionStorage.getItem(SEAT_KEY);
  const joined: unknown = await client.call('game.join', seat === null ? {} : { seat });
  if (!isGameJoined(joined)) throw new Error('game.join answered something else than a join');
  sessionStorage.setItem(SEAT_KEY, joined.seat);
  ownPlayer = joined.player;
  tickInterval = 1000 / joined.tickRate;
  document.body.dataset.player = String(joined.player);
  // Start over from the join's frame: a restarted server counts its ticks from 0 again.
  previous = null;
  current = null;
  onFrame(joined.frame);
  if (channel === joined.channel) return;
  channel = joined.channel;
  const arena = client.subscribe(joined.channel as `game:${string}`);
  arena.on('publication', (publication) => {
    if (isGameFrame(publication.data)) onFrame(publication.data);
  });
}

async function main(): Promise<void> {
  watchControls();
  requestAnimationFrame(frameLoop);
  setInterval(drawScores, SCORES_INTERVAL);
  const { client } = await connectDemo(true, 'msgpack');
  showStatus(client);
  const pump = (): void => {
    sendInput(client);
    setTimeout(pump, tickInterval);
  };
  pump();
  client.on('connected', () => joinSoon(client));
  if (client.state === 'connected') joinSoon(client);
}

void main();
