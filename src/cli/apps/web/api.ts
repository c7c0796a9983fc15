/**
 * The real-time API of the demo apps of `switchboard serve`: what each
 * namespace carries, the server's methods, and a few constants. Shared by
 * the server (serve-server.ts) and the pages' scripts in this folder; it is
 * served to browsers too (/apps/api.js), so it holds no DOM or Node code.
 */

/** Who a connected user is, as presence and publications show it (the `info` of the authenticate hook). */
export interface DemoUserInfo {
  name: string;
  /** A CSS colour, e.g. '#0b57d0'. */
  color: string;
}

/** The `data` of a connect result: the user's own info and the process that serves it. */
export interface DemoConnectData extends DemoUserInfo {
  /** 1 … N with `--workers N`, else 1. */
  worker: number;
}

/** What a page sends as connect `data` when it has no token: the nickname picked and a per-browser id. */
export interface GuestHello {
  name: string;
  /** Random letters kept by the browser, so that a reconnect is the same user. */
  id: string;
}

/** `chat:<room>`: one message. The sender is the publication's `info`. */
export interface ChatMessage {
  text: string;
  /** When the sender sent it (ms since the epoch, the sender's clock). */
  sent: number;
}

/** `typing:<room>`: the publisher started (true) or stopped (false) typing. */
export interface TypingSignal {
  typing: boolean;
}

/** A batch of points of one stroke: x, y pairs in board coordinates (BOARD_WIDTH × BOARD_HEIGHT). */
export interface StrokeBatch {
  type: 'stroke';
  /** The stroke's id, unique per drawer. */
  stroke: string;
  /** The batch's number within its stroke, from 0. */
  seq: number;
  color: string;
  size: number;
  /** Flat [x0, y0, x1, y1, …]; a later batch starts with the last point of the one before. */
  points: number[];
}

/** `board:<name>`: a stroke batch, or the board was cleared. */
export type BoardEvent = StrokeBatch | { type: 'clear' };

/** `cursor:<name>`: where the publisher's pointer is on the board, or `gone` when it left the board. */
export type CursorPosition = { x: number; y: number } | { gone: true };

/** Per-second figures of one server process. */
export interface MetricsSample {
  /** ms since the epoch, when the sample was taken. */
  time: number;
  worker: number;
  pid: number;
  /** Seconds since the process started. */
  uptime: number;
  connections: number;
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** The channels with the most local subscribers: [channel, subscribers]. */
  channels: Array<[string, number]>;
}

/** The result of `board.snapshot`: the board's events since its last clear, and the position to subscribe from. */
export interface BoardSnapshot {
  events: Array<{ offset: number; data: BoardEvent }>;
  offset: number;
  epoch: string;
}

/** The demo apps' channels and methods. */
export interface DemoApi {
  channels: {
    chat: ChatMessage;
    typing: TypingSignal;
    board: BoardEvent;
    cursor: CursorPosition;
    metrics: MetricsSample;
  };
  methods: {
    'board.snapshot': { params: { board: string }; result: BoardSnapshot };
  };
}

/** The whiteboard's coordinate space (16:10); pages scale it to their canvas. */
export const BOARD_WIDTH = 1600;
export const BOARD_HEIGHT = 1000;

/** The channel the server publishes its metrics on, once a second per process. */
export const METRICS_CHANNEL = 'metrics:server';

/** Room and board names: letters, digits, '-' and '_', up to 40 characters. */
export const ROOM_NAME = /^[A-Za-z0-9_-]{1,40}$/;
