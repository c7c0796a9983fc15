/**
 * The real-time API of the demo apps of `switchboard serve`: what each
 * namespace carries, the server's methods, and a few constants. Shared by
 * the server (serve-server.ts) and the pages' scripts in this folder; it is
 * served to browsers too (/apps/api.js), so it holds no DOM or Node code.
 */
import type { GameFrame, GameInput, GameJoined, GameJoinParams } from './game-api.js';
import type { Quote, TickerLink, TickerLinkParams, TickerStats } from './ticker-api.js';

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
  /** A guest's token: send it back as the connect data's `id` to stay the same user. */
  id?: string;
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

/**
 * The result of `board.snapshot`: where a late joiner subscribes *since* —
 * the board's last clear (or the oldest event its history can hold) in the
 * board's current epoch. The events after it arrive through the
 * subscription's recovery; the snapshot itself reads no history.
 */
export interface BoardPosition {
  offset: number;
  epoch: string;
}

/** `boardmeta:<name>` (server-published, history size 1): where the board was last cleared. */
export interface BoardClearMark {
  /** The offset of the clear event on `board:<name>`. */
  offset: number;
  /** The board stream's epoch when it was cleared. */
  epoch: string;
}

/** How a notification is shown: its colour and icon. */
export type NotificationLevel = 'info' | 'success' | 'warning' | 'error';

/**
 * `notifications:#<user>`: one notification for that user. Published by
 * backends through the server API (clients cannot publish there); only the
 * user named after the `#` may subscribe (a personal channel).
 */
export interface Notification {
  /** 1 … MAX_NOTIFICATION_TITLE characters. */
  title: string;
  /** Up to MAX_NOTIFICATION_BODY characters. */
  body?: string;
  /** An http: or https: link the notification opens, up to MAX_NOTIFICATION_URL characters. */
  url?: string;
  /** Default 'info'. */
  level?: NotificationLevel;
}

/** The demo apps' channels and methods. */
export interface DemoApi {
  channels: {
    chat: ChatMessage;
    typing: TypingSignal;
    board: BoardEvent;
    cursor: CursorPosition;
    metrics: MetricsSample;
    boardmeta: BoardClearMark;
    notifications: Notification;
    /** The trading feed (ticker-api.ts): quotes and stats samples, published by the server only. */
    ticker: Quote | TickerStats;
    /** The game's frames (game-api.ts), published by the server only, as MessagePack. */
    game: GameFrame;
  };
  methods: {
    'board.snapshot': { params: { board: string }; result: BoardPosition };
    'board.clear': { params: { board: string }; result: BoardPosition };
    'game.join': { params: GameJoinParams; result: GameJoined };
    'game.input': { params: GameInput; result: null };
    'ticker.link': { params: TickerLinkParams; result: TickerLink };
  };
}

/** The whiteboard's coordinate space (16:10); pages scale it to their canvas. */
export const BOARD_WIDTH = 1600;
export const BOARD_HEIGHT = 1000;

/** The channel the server publishes its metrics on, once a second per process. */
export const METRICS_CHANNEL = 'metrics:server';

/** Room and board names: letters, digits, '-' and '_', up to 40 characters. */
export const ROOM_NAME = /^[A-Za-z0-9_-]{1,40}$/;

/** The namespace where the server records each board's last clear (clients cannot publish there). */
export const BOARD_META_NAMESPACE = 'boardmeta';

/** Longest chat message, in UTF-16 code units. */
export const MAX_CHAT_TEXT = 2000;
/** Most numbers (x, y, x, y …) in one stroke batch: 256 points. Pages split longer batches. */
export const MAX_BATCH_NUMBERS = 512;
/** Brush sizes a stroke may use (board units). */
export const MIN_BRUSH_SIZE = 1;
export const MAX_BRUSH_SIZE = 64;
/** Highest batch number within one stroke. */
export const MAX_STROKE_SEQ = 100_000;
/** Stroke ids: letters, digits, '-' and '_', up to 40 characters. */
export const STROKE_ID = /^[A-Za-z0-9_-]{1,40}$/;
/** Colours of strokes and users: '#rrggbb'. */
export const HEX_COLOR = /^#[0-9A-Fa-f]{6}$/;
/** Latest `sent` time accepted (ms since the epoch; the year 2100). */
export const MAX_TIMESTAMP = 4_102_444_800_000;
/** Longest display name a page shows (server-side names are shorter; longer ones are cut). */
export const MAX_SHOWN_NAME = 64;

/** The namespace of the users' notification channels: `notifications:#<user>` (personal, server-published). */
export const NOTIFICATIONS_NAMESPACE = 'notifications';
/** A user's notification channel. */
export function notificationChannel(user: string): `notifications:#${string}` {
  return `${NOTIFICATIONS_NAMESPACE}:#${user}`;
}
/** Longest notification title, body and link (UTF-16 code units). */
export const MAX_NOTIFICATION_TITLE = 200;
export const MAX_NOTIFICATION_BODY = 2000;
export const MAX_NOTIFICATION_URL = 2048;
/** The levels a notification may have. */
export const NOTIFICATION_LEVELS: readonly NotificationLevel[] = ['info', 'success', 'warning', 'error'];
/** Links a notification may carry: absolute http: or https: URLs (never javascript: or data:). */
export const NOTIFICATION_URL = /^https?:\/\/[^\s]+$/i;
