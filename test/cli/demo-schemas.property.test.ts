// The demo apps' schemas (server) against the pages' checks (browser), by
// property: whatever the schemas let a client publish, the pages accept and
// render, so no publication that passed the server is skipped. Values are
// generated around the limits (just inside and just outside), with junk mixed in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as v from 'valibot';
import { chatMessageSchema, cursorPositionSchema, notificationSchema, strokeBatchSchema, typingSignalSchema } from '../../src/cli/apps/schemas.js';
import { isBoardEvent, isChatMessage, isCursorPosition, isNotification, isTypingSignal } from '../../src/cli/apps/web/guards.js';
import { BOARD_HEIGHT, BOARD_WIDTH, MAX_BATCH_NUMBERS, MAX_BRUSH_SIZE, MAX_CHAT_TEXT, MAX_NOTIFICATION_BODY, MAX_NOTIFICATION_TITLE, MAX_NOTIFICATION_URL, MAX_STROKE_SEQ } from '../../src/cli/apps/web/api.js';

const junk = fc.oneof(fc.constant(null), fc.constant(undefined), fc.string({ maxLength: 5 }), fc.double(), fc.boolean(), fc.object({ maxDepth: 1 }));
const aroundNumber = (max: number) => fc.oneof(fc.integer({ min: -2, max: max + 2 }), fc.double({ min: -1, max: max + 1, noNaN: false }), junk);

const chat = fc.record({ text: fc.oneof(fc.string({ minLength: 0, maxLength: 3 }), fc.string({ minLength: MAX_CHAT_TEXT - 1, maxLength: MAX_CHAT_TEXT + 1 }), junk), sent: aroundNumber(4_102_444_800_001) });
const typing = fc.record({ typing: fc.oneof(fc.boolean(), junk) });
/** Points mostly inside the board (the edges included), sometimes just outside. */
const pairs = fc
  .array(fc.tuple(fc.oneof(fc.integer({ min: 0, max: BOARD_WIDTH }), fc.constantFrom(0, BOARD_WIDTH, BOARD_WIDTH + 1, -1, 0.5)), fc.oneof(fc.integer({ min: 0, max: BOARD_HEIGHT }), fc.constantFrom(0, BOARD_HEIGHT, BOARD_HEIGHT + 1))), { minLength: 0, maxLength: MAX_BATCH_NUMBERS / 2 + 1 })
  .map((list) => list.flat());
const stroke = fc.record({
  type: fc.oneof({ arbitrary: fc.constant('stroke'), weight: 9 }, { arbitrary: junk, weight: 1 }),
  stroke: fc.oneof({ arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{0,42}$/), weight: 9 }, { arbitrary: junk, weight: 1 }),
  seq: fc.oneof({ arbitrary: fc.integer({ min: 0, max: MAX_STROKE_SEQ }), weight: 4 }, { arbitrary: aroundNumber(MAX_STROKE_SEQ), weight: 1 }),
  color: fc.oneof(fc.constantFrom('#0b57d0', '#FFFFFF', '#12345', 'red', '#1234567'), junk),
  size: fc.oneof({ arbitrary: fc.double({ min: 1, max: MAX_BRUSH_SIZE, noNaN: true }), weight: 4 }, { arbitrary: aroundNumber(MAX_BRUSH_SIZE), weight: 1 }),
  points: fc.oneof({ arbitrary: pairs, weight: 9 }, { arbitrary: fc.array(aroundNumber(Math.max(BOARD_WIDTH, BOARD_HEIGHT)), { maxLength: 5 }), weight: 1 }, { arbitrary: junk, weight: 1 }),
});
/** Strings of 0 … 3 characters, or just around `max`. */
const aroundLength = (max: number) => fc.oneof(fc.string({ maxLength: 3 }), fc.string({ minLength: max - 1, maxLength: max + 1 }));
const url = fc.oneof(fc.constantFrom('https://example.com/a', 'http://x', 'javascript:alert(1)', 'https://a b', 'ftp://x', ''), fc.string({ minLength: MAX_NOTIFICATION_URL - 20, maxLength: MAX_NOTIFICATION_URL - 18 }).map((rest) => `https://${rest.replace(/\s/g, 'x')}`));
const notification = fc.record(
  {
    title: fc.oneof({ arbitrary: aroundLength(MAX_NOTIFICATION_TITLE), weight: 9 }, { arbitrary: junk, weight: 1 }),
    body: fc.oneof({ arbitrary: aroundLength(MAX_NOTIFICATION_BODY), weight: 9 }, { arbitrary: junk, weight: 1 }),
    url: fc.oneof({ arbitrary: url, weight: 9 }, { arbitrary: junk, weight: 1 }),
    level: fc.oneof(fc.constantFrom('info', 'success', 'warning', 'error', 'panic', 'INFO'), junk),
  },
  { requiredKeys: [] },
);
const cursor = fc.oneof(fc.record({ x: aroundNumber(BOARD_WIDTH), y: aroundNumber(BOARD_HEIGHT) }), fc.record({ gone: fc.oneof(fc.boolean(), junk) }), junk);

function agrees(schema: v.GenericSchema, guard: (data: unknown) => boolean, arbitrary: fc.Arbitrary<unknown>): { accepted: number } {
  let accepted = 0;
  fc.assert(
    fc.property(arbitrary, (data) => {
      // JSON is what travels: the pages see the data as the server relays it.
      const text = JSON.stringify(data);
      if (text === undefined) return;
      const sent: unknown = JSON.parse(text);
      if (!v.safeParse(schema, sent).success) return;
      accepted++;
      assert.ok(guard(sent), `the page accepts ${text.slice(0, 120)}`);
    }),
    { numRuns: 3000, seed: 14 },
  );
  return { accepted };
}

describe('the demo schemas and the pages agree', () => {
  for (const [name, schema, guard, arbitrary] of [
    ['chat', chatMessageSchema, isChatMessage, chat],
    ['typing', typingSignalSchema, isTypingSignal, typing],
    ['board', strokeBatchSchema, isBoardEvent, stroke],
    ['cursor', cursorPositionSchema, isCursorPosition, cursor],
    ['notifications', notificationSchema, isNotification, notification],
  ] as const) {
    it(`${name}: every value the schema accepts, the page accepts`, () => {
      const { accepted } = agrees(schema as v.GenericSchema, guard, arbitrary as fc.Arbitrary<unknown>);
      assert.ok(accepted >= 20, `enough generated values passed the schema to mean something (${accepted})`);
    });
  }
});
