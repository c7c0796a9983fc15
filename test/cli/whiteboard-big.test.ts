// The whiteboard's late joiner on a big board, in Chromium: 10,000 ordinary
// stroke batches (~280 B each, 2.8 MB of board) published through the SDK,
// then a page opened afterwards must draw every one. `board.snapshot`
// answers only a position; the strokes reach the page through the
// subscription's recovery (subscribe since the last clear), whose reply
// must fit the server's per-connection limits however large the board.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { BOARD_WIDTH } from '../../src/cli/apps/web/api.js';
import { chromiumPeer, chromiumSuite, newPerson } from './browser-helpers.js';
import { gridBatch } from './demo-helpers.js';
import { guest } from './serve-helpers.js';

const BATCHES = 10_000;
/** How long the page may take to draw the board (the whole file has 120 s). */
const DRAW_TIMEOUT = 70_000;

/** How many of the batches have their first point inked on the page's canvas. */
function inkedBatches(page: Page): Promise<number> {
  return page.evaluate(
    ([total, width]) => {
      const canvas = document.getElementById('canvas') as HTMLCanvasElement;
      const scale = canvas.width / width;
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let i = 0; i < total; i++) {
        const x = Math.round(((i % 100) * 16 + 2) * scale);
        const y = Math.round((Math.floor(i / 100) * 10 + 3) * scale);
        const at = (y * canvas.width + x) * 4;
        if (pixels[at]! < 200 || pixels[at + 1]! < 200) count++;
      }
      return count;
    },
    [BATCHES, BOARD_WIDTH] as const,
  );
}

describe('the whiteboard: a late joiner of a board of 10,000 stroke batches', () => {
  const { chromium, options } = chromiumPeer();
  // Publishing 10,000 batches in seconds needs more than 100 publications a second;
  // every other limit (the joiner's included) keeps its default.
  const suite = chromiumSuite(chromium.available, ['--port', '0'], { config: { limits: { rate: { perSecond: 50_000, burst: 50_000, disconnectAfter: 50 } } } });

  it('publishes 10,000 ordinary batches (~280 B each); a page opened afterwards draws every one', options, async () => {
    const size = JSON.stringify(gridBatch(BATCHES - 1)).length;
    assert.ok(size >= 250 && size <= 310, `a batch is ~280 B as JSON (${size})`);
    const { client } = await guest(suite.serve.port, 'Filler');
    try {
      const board = client.subscribe('board:huge');
      await board.ready();
      for (let i = 0; i < BATCHES; i += 500) await Promise.all(Array.from({ length: 500 }, (_, k) => board.publish(gridBatch(i + k))));
    } finally {
      client.close();
    }

    const { context, page, errors } = await newPerson(suite.browser, { expectedConsole: false });
    const closes: string[] = [];
    try {
      page.on('websocket', (socket) => socket.on('close', () => closes.push(new Date().toISOString())));
      await page.goto(`http://127.0.0.1:${suite.serve.port}/whiteboard?board=huge&name=Late`);
      const drawn = await page
        .waitForFunction((count) => document.getElementById('canvas')?.dataset.events === count, String(BATCHES), { timeout: DRAW_TIMEOUT })
        .then(() => true)
        .catch(() => false);
      const events = await page.getAttribute('#canvas', 'data-events');
      assert.ok(drawn, `the late joiner drew ${events ?? 'no'} of ${BATCHES} batches in ${DRAW_TIMEOUT / 1000} s; its WebSocket closed ${closes.length} time(s)`);
      assert.equal(await inkedBatches(page), BATCHES, 'every batch is on the canvas');
      assert.equal(await page.getAttribute('#canvas', 'data-skipped'), null, 'none skipped');
      assert.equal(closes.length, 0, 'the connection was never closed');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
