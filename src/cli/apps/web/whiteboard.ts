/**
 * The collaborative whiteboard (/apps/whiteboard.js). Strokes travel on
 * `board:<name>` as batches of points (one every 40 ms while drawing, at
 * most 256 points each); the board keeps them in its history. A late joiner
 * asks `board.snapshot` where to start — the board's last clear, a few bytes
 * whatever the board holds — and subscribes *since* that position: the
 * SDK's recovery replays the strokes after it, then the live ones follow
 * (no gap, no double). When the server cannot replay them (`recovered:
 * false`: the history is gone, e.g. the server restarted), the page says so
 * and goes on from an empty board. Clearing is the `board.clear` method.
 * Cursors travel on `cursor:<name>`: at most 20 updates a second, never
 * stored, and presence (join/leave) removes the cursor of someone who left.
 *
 * Everything received is checked (web/guards.ts) before it is drawn: an
 * event that is not valid is skipped and counted, never thrown over.
 */
import type { PresenceMember, Subscription } from '../../../realtime/sdk/index.js';
import { BOARD_HEIGHT, BOARD_WIDTH, MAX_BATCH_NUMBERS, MAX_STROKE_SEQ, ROOM_NAME, type BoardEvent, type BoardPosition, type CursorPosition, type StrokeBatch } from './api.js';
import { avatar, byId, connectData, connectDemo, element, isOwnUser, nameFromUrl, nameplate, nameWithTag, whenPossible, type DemoClient } from './common.js';
import { isBoardEvent, isBoardPosition, isCursorPosition, userInfoOf } from './guards.js';

const BOARD = nameFromUrl('board', ROOM_NAME, 'main');
const PALETTE = ['#1c2233', '#d93025', '#e8710a', '#f2b600', '#12a150', '#0b57d0', '#8e24aa', '#c2185b'];
const ERASER = '#ffffff';
const SIZES = [3, 8, 18];
/** A stroke in progress is sent this often (ms). */
const FLUSH_INTERVAL = 40;
/** Cursor positions are sent at most this often (ms). */
const CURSOR_INTERVAL = 50;
/** A cursor that has not moved for this long (ms) fades. */
const CURSOR_IDLE = 6000;

type Point = [number, number];
interface BoardEntry {
  offset: number;
  data: BoardEvent;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The canvas: board coordinates, scaling, and drawing of batches. */
class Surface {
  readonly canvas = byId<HTMLCanvasElement>('canvas');
  private readonly context = this.canvas.getContext('2d')!;
  /** CSS pixels per board unit. */
  scale = 1;

  /** Fits the canvas to the space available, keeping the board's aspect ratio. */
  fit(): void {
    const wrap = byId('canvas-wrap');
    const width = Math.max(200, Math.min(wrap.clientWidth, (wrap.clientHeight * BOARD_WIDTH) / BOARD_HEIGHT));
    this.scale = width / BOARD_WIDTH;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${width * (BOARD_HEIGHT / BOARD_WIDTH)}px`;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(width * (BOARD_HEIGHT / BOARD_WIDTH) * ratio);
    this.context.setTransform(this.scale * ratio, 0, 0, this.scale * ratio, 0, 0);
  }

  clear(): void {
    this.context.fillStyle = '#fff';
    this.context.fillRect(0, 0, BOARD_WIDTH, BOARD_HEIGHT);
  }

  /** Draws a batch: a dot for a single point, else a polyline. */
  draw(batch: Pick<StrokeBatch, 'color' | 'size' | 'points'>): void {
    const { points, color, size } = batch;
    if (points.length < 2) return;
    const context = this.context;
    context.strokeStyle = context.fillStyle = color;
    context.lineWidth = size;
    context.lineCap = context.lineJoin = 'round';
    context.beginPath();
    if (points.length === 2) {
      context.arc(points[0]!, points[1]!, size / 2, 0, 2 * Math.PI);
      context.fill();
      return;
    }
    context.moveTo(points[0]!, points[1]!);
    for (let i = 2; i + 1 < points.length; i += 2) context.lineTo(points[i]!, points[i + 1]!);
    context.stroke();
  }

  /** A pointer event's position in board coordinates (rounded, clamped to the board). */
  toBoard(event: { clientX: number; clientY: number }): Point {
    const box = this.canvas.getBoundingClientRect();
    const x = Math.round((event.clientX - box.left) / this.scale);
    const y = Math.round((event.clientY - box.top) / this.scale);
    return [Math.min(BOARD_WIDTH, Math.max(0, x)), Math.min(BOARD_HEIGHT, Math.max(0, y))];
  }
}

/** The board's content: confirmed events (in stream order) and this page's batches not confirmed yet. */
class BoardState {
  private confirmed: BoardEntry[] = [];
  private readonly pending = new Map<string, StrokeBatch>();
  /** Publications that were not valid board events (old or hostile history): skipped. */
  private skipped = 0;

  constructor(readonly surface: Surface) {}

  /** A publication that is not a board event: not drawn, counted. */
  skip(): void {
    this.skipped++;
    this.surface.canvas.dataset.skipped = String(this.skipped);
  }

  get size(): number {
    return this.confirmed.length;
  }

  /** Replaces the confirmed events (a snapshot) and redraws. */
  reset(entries: BoardEntry[]): void {
    this.confirmed = entries;
    this.redraw();
  }

  redraw(): void {
    this.surface.clear();
    for (const { data } of this.confirmed) if (data.type === 'stroke') this.surface.draw(data);
    for (const batch of this.pending.values()) this.surface.draw(batch);
    this.surface.canvas.dataset.events = String(this.confirmed.length);
  }

  /** A batch this page drew and sent: drawn already, kept until the channel confirms it. */
  sent(batch: StrokeBatch): void {
    this.pending.set(`${batch.stroke}:${batch.seq}`, batch);
  }

  /** A batch this page sent was refused or timed out: it disappears. */
  lost(batch: StrokeBatch): void {
    if (this.pending.delete(`${batch.stroke}:${batch.seq}`)) this.redraw();
  }

  /** An event of the channel, in stream order. */
  apply(entry: BoardEntry): void {
    if (entry.data.type === 'clear') {
      this.confirmed = [];
      this.redraw();
      return;
    }
    this.confirmed.push(entry);
    // This page's own batches are on the canvas already.
    if (!this.pending.delete(`${entry.data.stroke}:${entry.data.seq}`)) this.surface.draw(entry.data);
    this.surface.canvas.dataset.events = String(this.confirmed.length);
  }
}

/** The stroke being drawn here: drawn at once, sent in batches. */
class StrokeRecorder {
  private stroke = '';
  private seq = 0;
  private points: number[] = [];
  private last: Point | null = null;
  private timer = 0;
  color = PALETTE[0]!;
  size = SIZES[1]!;

  constructor(
    private readonly surface: Surface,
    private readonly send: (batch: StrokeBatch) => void,
  ) {}

  start(point: Point): void {
    this.stroke = crypto.getRandomValues(new Uint32Array(2)).join('-');
    this.seq = 0;
    this.points = [...point];
    this.last = point;
    this.surface.draw({ color: this.color, size: this.size, points: [...point] });
    this.timer = window.setInterval(() => this.flush(false), FLUSH_INTERVAL);
  }

  add(point: Point): void {
    const last = this.last;
    if (last === null || (Math.abs(point[0] - last[0]) < 2 && Math.abs(point[1] - last[1]) < 2)) return;
    this.surface.draw({ color: this.color, size: this.size, points: [...last, ...point] });
    this.points.push(...point);
    this.last = point;
    // A batch holds at most MAX_BATCH_NUMBERS numbers (the server refuses longer ones).
    if (this.points.length >= MAX_BATCH_NUMBERS) this.flush(false);
  }

  end(): void {
    if (this.last === null) return;
    clearInterval(this.timer);
    this.flush(true);
    this.last = null;
  }

  /** Sends the points since the last batch (each batch starts where the previous one ended). */
  private flush(final: boolean): void {
    // A batch needs a segment; a click without a move is sent once, as a dot.
    if (this.points.length < 4 && !(final && this.seq === 0)) return;
    if (this.seq > MAX_STROKE_SEQ) {
      // A very long stroke goes on as a new one.
      this.stroke = crypto.getRandomValues(new Uint32Array(2)).join('-');
      this.seq = 0;
    }
    this.send({ type: 'stroke', stroke: this.stroke, seq: this.seq++, color: this.color, size: this.size, points: this.points });
    this.points = this.last === null ? [] : [...this.last];
  }
}

/** Other people's cursors over the board. */
class Cursors {
  private readonly shown = new Map<string, { node: HTMLElement; timer: number }>();

  constructor(private readonly surface: Surface) {}

  move(member: { client: string; user: string; info?: unknown }, position: unknown): void {
    if (!isCursorPosition(position)) return;
    if ('gone' in position) return this.remove(member.client);
    const cursor = this.shown.get(member.client) ?? this.create(member);
    cursor.node.style.transform = `translate(${position.x * this.surface.scale}px, ${position.y * this.surface.scale}px)`;
    cursor.node.classList.remove('idle');
    clearTimeout(cursor.timer);
    cursor.timer = window.setTimeout(() => cursor.node.classList.add('idle'), CURSOR_IDLE);
  }

  remove(client: string): void {
    const cursor = this.shown.get(client);
    if (cursor === undefined) return;
    clearTimeout(cursor.timer);
    cursor.node.remove();
    this.shown.delete(client);
  }

  private create(member: { client: string; user: string; info?: unknown }): { node: HTMLElement; timer: number } {
    const info = userInfoOf(member);
    const node = element('div', 'cursor');
    node.dataset.client = member.client;
    node.style.setProperty('--c', info.color);
    node.append(cursorArrow(info.color), nameplate(member.user, info, 'label'));
    byId('canvas-frame').append(node);
    const cursor = { node, timer: 0 };
    this.shown.set(member.client, cursor);
    return cursor;
  }
}

/** The arrow of a cursor, in the user's colour (built with DOM calls: no markup from data). */
function cursorArrow(color: string): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 18 18');
  const path = document.createElementNS(SVG_NS, 'path');
  for (const [name, value] of [['d', 'M2 1.5l13 6.2-5.6 1.6L7 15z'], ['fill', color], ['stroke', '#fff'], ['stroke-width', '1.3'], ['stroke-linejoin', 'round']]) path.setAttribute(name!, value!);
  svg.append(path);
  return svg;
}

function renderDrawers(members: Map<string, PresenceMember>): void {
  const users = new Map<string, PresenceMember>();
  for (const member of members.values()) if (typeof member.user === 'string') users.set(member.user, member);
  const faces = [...users.values()].slice(0, 6).map((member) => {
    const info = userInfoOf(member);
    const face = avatar(info.name, info.color, true);
    face.title = isOwnUser(member.user) ? `${nameWithTag(member)} (you)` : nameWithTag(member);
    face.dataset.user = member.user;
    return face;
  });
  const label = element('span', '', `${users.size} here`);
  byId('drawers').replaceChildren(...faces, label);
}

function buildToolbar(recorder: StrokeRecorder, ownColor: string): void {
  const colors = [...new Set([ownColor, ...PALETTE])];
  const swatches = [...colors, ERASER].map((color) => {
    const swatch = element('button', color === ERASER ? 'swatch eraser' : 'swatch');
    swatch.type = 'button';
    swatch.title = color === ERASER ? 'Eraser' : color;
    swatch.style.setProperty('--c', color);
    swatch.addEventListener('click', () => {
      recorder.color = color;
      for (const other of swatches) other.setAttribute('aria-pressed', String(other === swatch));
    });
    return swatch;
  });
  byId('swatches').replaceChildren(...swatches);
  swatches[0]!.click();
  const sizes = SIZES.map((size) => {
    const button = element('button', 'size');
    button.type = 'button';
    button.title = `${size} px`;
    const dot = element('span');
    dot.style.width = dot.style.height = `${Math.min(18, size + 2)}px`;
    button.append(dot);
    button.addEventListener('click', () => {
      recorder.size = size;
      for (const other of sizes) other.setAttribute('aria-pressed', String(other === button));
    });
    return button;
  });
  byId('sizes').replaceChildren(...sizes);
  sizes[1]!.click();
}

/** Sends the pointer position on the cursor channel, at most every CURSOR_INTERVAL ms, only while connected. */
function cursorSender(channel: Subscription<CursorPosition>, isConnected: () => boolean): (position: CursorPosition) => void {
  let lastSent = 0;
  let waiting: CursorPosition | null = null;
  let timer = 0;
  const sendNow = (position: CursorPosition): void => {
    lastSent = Date.now();
    if (isConnected()) channel.publish(position).catch(() => {});
  };
  return (position) => {
    const wait = CURSOR_INTERVAL - (Date.now() - lastSent);
    if (wait <= 0 && timer === 0) return sendNow(position);
    waiting = position;
    if (timer !== 0) return;
    timer = window.setTimeout(() => {
      timer = 0;
      if (waiting !== null) sendNow(waiting);
      waiting = null;
    }, Math.max(0, wait));
  };
}

/** Pointer input: drawing with the recorder, and the cursor for the others. */
function wirePointer(surface: Surface, recorder: StrokeRecorder, sendCursor: (position: CursorPosition) => void): void {
  const canvas = surface.canvas;
  canvas.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    recorder.start(surface.toBoard(event));
  });
  canvas.addEventListener('pointermove', (event) => {
    const coalesced = typeof event.getCoalescedEvents === 'function' ? event.getCoalescedEvents() : [];
    for (const sample of coalesced.length > 0 ? coalesced : [event]) recorder.add(surface.toBoard(sample));
    const [x, y] = surface.toBoard(event);
    sendCursor({ x, y });
  });
  const stop = (): void => recorder.end();
  canvas.addEventListener('pointerup', stop);
  canvas.addEventListener('pointercancel', stop);
  canvas.addEventListener('pointerleave', () => sendCursor({ gone: true }));
}

/**
 * Where to subscribe to the board from: the position `board.snapshot`
 * answers (its last clear), or null when the server could not say (the page
 * then follows the board live only).
 */
async function boardStart(client: DemoClient): Promise<BoardPosition | null> {
  const position: unknown = await whenPossible(client, () => client.call('board.snapshot', { board: BOARD }));
  return isBoardPosition(position) ? position : null;
}

/** Says something about the board above it (null removes it). */
function boardNote(text: string | null): void {
  const frame = byId('canvas-frame');
  frame.querySelector('.board-note')?.remove();
  if (text !== null) frame.append(element('div', 'board-note', text));
}

/**
 * Keeps the board in step with its channel: replayed and live events are
 * drawn in stream order; when the server could not replay what came before
 * (`recovered: false`), the board starts over empty and says so.
 */
function followBoard(board: Subscription<BoardEvent>, state: BoardState, start: BoardPosition | null): void {
  if (start === null) boardNote('This board’s earlier strokes could not be loaded; new strokes show as they are drawn.');
  board.on('publication', ({ offset, data }) => {
    if (isBoardEvent(data) && typeof offset === 'number') state.apply({ offset, data });
    else state.skip();
  });
  board.on('subscribed', ({ recovered }) => {
    if (recovered !== false) return;
    state.reset([]);
    state.surface.canvas.dataset.lost = String(Number(state.surface.canvas.dataset.lost ?? 0) + 1);
    boardNote('This board’s earlier strokes are gone (did the server restart?); new strokes show as they are drawn.');
  });
}

/** Shows the others' cursors and who is on the board. */
function followCursors(client: DemoClient, channel: Subscription<CursorPosition>, cursors: Cursors): void {
  const members = new Map<string, PresenceMember>();
  const refresh = async (): Promise<void> => {
    const present = await channel.presence().catch(() => null);
    if (present === null) return;
    members.clear();
    for (const member of present) members.set(member.client, member);
    renderDrawers(members);
  };
  channel.on('publication', ({ data, info }) => {
    if (info !== undefined && typeof info.client === 'string' && info.client !== client.clientId) cursors.move(info, data);
  });
  channel.on('subscribed', () => void refresh());
  channel.on('join', (member) => {
    members.set(member.client, member);
    renderDrawers(members);
  });
  channel.on('leave', (member) => {
    members.delete(member.client);
    cursors.remove(member.client);
    renderDrawers(members);
  });
}

const { client, connected } = await connectDemo();
byId('board-title').textContent = BOARD === 'main' ? 'Whiteboard' : `Board: ${BOARD}`;
const surface = new Surface();
surface.fit();
const state = new BoardState(surface);
state.redraw();
const cursors = new Cursors(surface);
const start = await boardStart(client);
const board = client.subscribe(`board:${BOARD}`, start === null ? {} : { since: start });
const cursorChannel = client.subscribe(`cursor:${BOARD}`);
const recorder = new StrokeRecorder(surface, (batch) => {
  state.sent(batch);
  board.publish(batch).catch(() => state.lost(batch));
});
followBoard(board, state, start);
followCursors(client, cursorChannel, cursors);
void connected.then((result) => buildToolbar(recorder, userInfoOf({ user: result.user, info: connectData(result) ?? { color: PALETTE[0] } }).color));
window.addEventListener('resize', () => {
  surface.fit();
  state.redraw();
});
// Drawing starts once strokes can be shared (publishing needs the subscription).
await Promise.all([board.ready(), cursorChannel.ready()]).catch(() => {});
byId('clear').addEventListener('click', () => void client.call('board.clear', { board: BOARD }).catch(() => {}));
wirePointer(surface, recorder, cursorSender(cursorChannel, () => client.state === 'connected'));
document.body.dataset.board = 'ready';
