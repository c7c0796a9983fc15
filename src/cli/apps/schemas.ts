/**
 * The schemas of the demo apps (valibot, through the real-time server's
 * `schemas` option): what clients may publish in each namespace they can
 * publish in, and the params of each method. Strings, arrays and numbers
 * are bounded; objects are strict (no other keys). A publication or call
 * that does not match is refused with `invalid_data` before it is stored or
 * handled. Server-only: pages check what they receive with web/guards.ts,
 * which accepts everything these accept.
 */
import * as v from 'valibot';
import type { SchemaOptions } from '../../realtime/server/options.js';
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
  MAX_STROKE_SEQ,
  MAX_TIMESTAMP,
  MIN_BRUSH_SIZE,
  NOTIFICATION_LEVELS,
  NOTIFICATION_URL,
  ROOM_NAME,
  STROKE_ID,
  type DemoApi,
} from './web/api.js';
import { SEAT_PATTERN } from './web/game-api.js';

const integerIn = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const numberIn = (min: number, max: number) => v.pipe(v.number(), v.finite(), v.minValue(min), v.maxValue(max));

/** `chat:<room>`: 1 … 2000 characters and the sender's clock. */
export const chatMessageSchema = v.strictObject({
  text: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_CHAT_TEXT)),
  sent: integerIn(0, MAX_TIMESTAMP),
});

/** `typing:<room>`. */
export const typingSignalSchema = v.strictObject({ typing: v.boolean() });

/** Flat x, y pairs: an even count of 2 … MAX_BATCH_NUMBERS numbers, each inside the board. */
const boardPoints = v.pipe(
  v.array(numberIn(0, Math.max(BOARD_WIDTH, BOARD_HEIGHT))),
  v.minLength(2),
  v.maxLength(MAX_BATCH_NUMBERS),
  v.check((points) => points.length % 2 === 0, 'points must be x, y pairs'),
  v.check((points) => points.every((value, index) => value <= (index % 2 === 0 ? BOARD_WIDTH : BOARD_HEIGHT)), `points must lie inside the ${BOARD_WIDTH} × ${BOARD_HEIGHT} board`),
);

/**
 * `board:<name>`: stroke batches only. Clearing is the `board.clear` method,
 * which the server publishes and records (so that a late joiner starts
 * after it).
 */
export const strokeBatchSchema = v.strictObject({
  type: v.literal('stroke'),
  stroke: v.pipe(v.string(), v.regex(STROKE_ID)),
  seq: integerIn(0, MAX_STROKE_SEQ),
  color: v.pipe(v.string(), v.regex(HEX_COLOR)),
  size: numberIn(MIN_BRUSH_SIZE, MAX_BRUSH_SIZE),
  points: boardPoints,
});

/** `cursor:<name>`: a point of the board, or gone. */
export const cursorPositionSchema = v.union([
  v.strictObject({ x: numberIn(0, BOARD_WIDTH), y: numberIn(0, BOARD_HEIGHT) }),
  v.strictObject({ gone: v.literal(true) }),
]);

/**
 * `notifications:#<user>` (published through the server API): a title of
 * 1 … 200 characters, an optional body (≤ 2000), link (http: or https:,
 * ≤ 2048) and level.
 */
export const notificationSchema = v.strictObject({
  title: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_NOTIFICATION_TITLE)),
  body: v.optional(v.pipe(v.string(), v.maxLength(MAX_NOTIFICATION_BODY))),
  url: v.optional(v.pipe(v.string(), v.maxLength(MAX_NOTIFICATION_URL), v.regex(NOTIFICATION_URL))),
  level: v.optional(v.picklist(NOTIFICATION_LEVELS)),
});

/** The params of the board methods. */
export const boardParamsSchema = v.strictObject({ board: v.pipe(v.string(), v.regex(ROOM_NAME)) });

/** `game.join`: an optional seat from an earlier join. */
export const gameJoinSchema = v.strictObject({ seat: v.optional(v.pipe(v.string(), v.regex(SEAT_PATTERN))) });

/** `game.input`: a direction, each component in −1 … 1 (the world scales a longer vector to length 1). */
export const gameInputSchema = v.strictObject({ x: numberIn(-1, 1), y: numberIn(-1, 1) });

/** `ticker.link`: slow or not (the rate is the server's, TICKER_SLOW_LINK_RATE). */
export const tickerLinkSchema = v.strictObject({ slow: v.boolean() });

/**
 * Every namespace a client may publish in, with its schema, and
 * `notifications`, which only the server API publishes in (its schema
 * checks what backends send). `metrics` and `boardmeta` are
 * server-published (`publish: false`); a namespace added by
 * a config file has no schema unless its author adds one.
 */
export const DEMO_SCHEMAS: SchemaOptions<DemoApi> = {
  channels: {
    chat: chatMessageSchema,
    typing: typingSignalSchema,
    board: strokeBatchSchema,
    cursor: cursorPositionSchema,
    notifications: notificationSchema,
  },
  methods: {
    'board.snapshot': boardParamsSchema,
    'board.clear': boardParamsSchema,
    'game.join': gameJoinSchema,
    'game.input': gameInputSchema,
    'ticker.link': tickerLinkSchema,
  },
};
