/**
 * What the pages accept from the network (/apps/guards.js). The server
 * checks what clients publish against the demo's schemas (../schemas.ts),
 * but a channel's history may hold entries published before those schemas
 * existed, by an older server sharing the same Redis: every publication and
 * presence member goes through these checks before a page renders it, and
 * whatever does not pass is skipped (and counted), never thrown over.
 *
 * Also: the short tag that tells two users with the same name apart. No DOM
 * and no Node code here: served to browsers, imported by the tests.
 */
import {
  BOARD_HEIGHT,
  BOARD_WIDTH,
  HEX_COLOR,
  MAX_BATCH_NUMBERS,
  MAX_BRUSH_SIZE,
  MAX_CHAT_TEXT,
  MAX_NOTIFICATION_BODY,
  MAX_NOTIFICATION_TITLE,
  MAX_NOTIFICATION_URL,
  MAX_SHOWN_NAME,
  MAX_STROKE_SEQ,
  MAX_TIMESTAMP,
  MIN_BRUSH_SIZE,
  NOTIFICATION_LEVELS,
  NOTIFICATION_URL,
  STROKE_ID,
  type BoardEvent,
  type BoardPosition,
  type ChatMessage,
  type CursorPosition,
  type DemoUserInfo,
  type MetricsSample,
  type Notification,
  type StrokeBatch,
  type TypingSignal,
} from './api.js';

/** The colour of a user whose info has none (or a broken one). */
export const FALLBACK_COLOR = '#667085';

type Fields = Record<string, unknown>;

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNumberIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return isNumberIn(value, min, max) && Number.isInteger(value);
}

/** A chat message a page can show: text of 1 … MAX_CHAT_TEXT characters, a plausible `sent` time. */
export function isChatMessage(data: unknown): data is ChatMessage {
  return isRecord(data) && typeof data['text'] === 'string' && data['text'].length > 0 && data['text'].length <= MAX_CHAT_TEXT && isIntegerIn(data['sent'], 0, MAX_TIMESTAMP);
}

export function isTypingSignal(data: unknown): data is TypingSignal {
  return isRecord(data) && typeof data['typing'] === 'boolean';
}

/** Flat x, y pairs inside the board, at most MAX_BATCH_NUMBERS numbers. */
export function isBoardPoints(points: unknown): points is number[] {
  if (!Array.isArray(points) || points.length < 2 || points.length > MAX_BATCH_NUMBERS || points.length % 2 !== 0) return false;
  for (let i = 0; i < points.length; i++) {
    if (!isNumberIn(points[i], 0, i % 2 === 0 ? BOARD_WIDTH : BOARD_HEIGHT)) return false;
  }
  return true;
}

export function isStrokeBatch(data: unknown): data is StrokeBatch {
  return (
    isRecord(data) &&
    data['type'] === 'stroke' &&
    typeof data['stroke'] === 'string' &&
    STROKE_ID.test(data['stroke']) &&
    isIntegerIn(data['seq'], 0, MAX_STROKE_SEQ) &&
    typeof data['color'] === 'string' &&
    HEX_COLOR.test(data['color']) &&
    isNumberIn(data['size'], MIN_BRUSH_SIZE, MAX_BRUSH_SIZE) &&
    isBoardPoints(data['points'])
  );
}

/** A stroke batch or a clear. */
export function isBoardEvent(data: unknown): data is BoardEvent {
  return isStrokeBatch(data) || (isRecord(data) && data['type'] === 'clear');
}

export function isCursorPosition(data: unknown): data is CursorPosition {
  if (!isRecord(data)) return false;
  if (data['gone'] === true) return true;
  return isNumberIn(data['x'], 0, BOARD_WIDTH) && isNumberIn(data['y'], 0, BOARD_HEIGHT);
}

/** The result of `board.snapshot`. */
export function isBoardPosition(data: unknown): data is BoardPosition {
  return isRecord(data) && isIntegerIn(data['offset'], 0, Number.MAX_SAFE_INTEGER) && typeof data['epoch'] === 'string';
}

const SAMPLE_NUMBERS = ['time', 'worker', 'pid', 'uptime', 'connections', 'messagesInPerSecond', 'messagesOutPerSecond', 'bytesInPerSecond', 'bytesOutPerSecond', 'rss', 'heapUsed', 'heapTotal'] as const;

/** A metrics sample (published by the server only, checked all the same). */
export function isMetricsSample(data: unknown): data is MetricsSample {
  if (!isRecord(data) || !SAMPLE_NUMBERS.every((name) => isNumberIn(data[name], 0, Number.MAX_SAFE_INTEGER))) return false;
  const channels = data['channels'];
  return Array.isArray(channels) && channels.length <= 1000 && channels.every((entry) => Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && isIntegerIn(entry[1], 0, Number.MAX_SAFE_INTEGER));
}

/** A notification a page can show (what the server's notification schema accepts). */
export function isNotification(data: unknown): data is Notification {
  if (!isRecord(data)) return false;
  const { title, body, url, level } = data;
  if (typeof title !== 'string' || title.length === 0 || title.length > MAX_NOTIFICATION_TITLE) return false;
  if (body !== undefined && (typeof body !== 'string' || body.length > MAX_NOTIFICATION_BODY)) return false;
  if (url !== undefined && (typeof url !== 'string' || url.length > MAX_NOTIFICATION_URL || !NOTIFICATION_URL.test(url))) return false;
  return level === undefined || (typeof level === 'string' && (NOTIFICATION_LEVELS as readonly string[]).includes(level));
}

/**
 * How a page names a user: the info's name (cut to MAX_SHOWN_NAME
 * characters) and colour when they are well-formed, else the user id (or
 * 'someone') and a grey.
 */
export function userInfoOf(member: { user?: unknown; info?: unknown }): DemoUserInfo {
  const user = typeof member.user === 'string' ? member.user : '';
  const info = isRecord(member.info) ? member.info : {};
  const given = typeof info['name'] === 'string' ? info['name'].replace(SERVER_DISCRIMINATOR, '') : '';
  const rawName = given.trim() !== '' ? given : user || 'someone';
  const name = [...rawName].slice(0, MAX_SHOWN_NAME).join('');
  const color = typeof info['color'] === 'string' && HEX_COLOR.test(info['color']) ? info['color'] : FALLBACK_COLOR;
  return { name, color };
}

/**
 * The discriminator `switchboard serve` appends to display names (`Ada#3f2a9c`,
 * for clients that show names as they are). The pages show the tag of the
 * user id instead (`userTag`), set apart from the name, so they take it off.
 */
const SERVER_DISCRIMINATOR = /#[0-9a-f]{6}$/;

/** Letters of a tag: Crockford's base 32 (no i, l, o, u), lower case. */
const TAG_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** Characters in a tag: 20 bits. */
export const TAG_LENGTH = 4;

/**
 * A short, stable tag of a user id ('#' and four characters), shown next to
 * every display name so that two users who picked the same name (or
 * look-alike ones) do not look the same. FNV-1a over the id's UTF-16 code
 * units: the same everywhere, with no async crypto (which http:// pages on a
 * LAN address lack).
 */
export function userTag(user: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < user.length; i++) {
    hash ^= user.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  let tag = '';
  for (let i = 0; i < TAG_LENGTH; i++) {
    tag += TAG_ALPHABET[hash & 31];
    hash >>>= 5;
  }
  return `#${tag}`;
}
