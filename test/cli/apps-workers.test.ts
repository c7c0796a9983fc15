// The /ticker and /game pages of `switchboard serve --workers 2` with a real Redis, in Chromium: pages in
// separate browser contexts whose WebSockets are on different workers (as the server API's `connections`
// reports them). The ticker: both pages show one quote stream (the same quote of most instruments at one
// moment, each instrument's volume only growing: one walk, not two interleaved), at one feed's rate, run by
// worker 1; and the server's figures the page adds up over the workers (`sumOfWorkers`) are the latest
// samples of both workers added up. The game: both pages play in the one arena (worker 1's; worker 2 relays),
// each sees the other player, and the keys of either page move its player as the other page shows it.
// When worker 1 (the arena's owner) is killed and forked again, its page reconnects and the page whose
// connection stayed on worker 2 joins the new arena too, and both play on.
// A screenshot of the game goes to test-output/screenshots/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { TICKER_STATS, isTickerStats, type TickerStats } from '../../src/cli/apps/web/ticker-api.js';
import { requirePeer } from '../interop/peers.js';
import { redisAvailability } from '../realtime/broker/redis-server.js';
import {
  chromiumPeer,
  chromiumSuite,
  ownId,
  peopleOnWorkers,
  PLAYING,
  seen,
  shownNumber,
  steerUntilSeen,
  tickerFigure,
  tickerTable,
  waitUntilSeen,
  type TickerRow,
} from './browser-helpers.js';
import { eventually, guest, serveApi, workerPid } from './serve-helpers.js';

const SCREENSHOTS = 'test-output/screenshots';
const KEY = 'apps-workers-api-key-0123456789';
/**
 * The feed's rate here (`--ticker-rate`), as in apps-ticker.test.ts: a headless Chromium drawing in software on
 * two shared cores falls behind the default 2,000 quotes a second, and two such pages then showed almost no quote alike.
 */
const RATE = 500;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The arena's tick the game page shows (its status line), or NaN before its first frame. */
function shownTick(page: Page): Promise<number> {
  return page.evaluate(() => Number(/tick (\d+)/.exec(document.getElementById('game-meta')?.textContent ?? '')?.[1] ?? NaN));
}

/** Whether the game page's frames move: its tick grows within 500 ms. */
async function framesMoving(page: Page): Promise<boolean> {
  const before = await shownTick(page);
  await sleep(500);
  return (await shownTick(page)) > before;
}

/** A Node subscriber of `ticker:stats` that keeps every sample (of every worker) it got. */
async function followStats(port: number): Promise<{ samples: TickerStats[]; close(): void }> {
  const { client } = await guest(port, 'Figures');
  const samples: TickerStats[] = [];
  const stats = client.subscribe(TICKER_STATS);
  stats.on('publication', ({ data }) => {
    if (isTickerStats(data)) samples.push(data);
  });
  // Subscribed before any page is: it gets every sample a page can get.
  await stats.ready();
  return { samples, close: () => client.close() };
}

/** What a page showed: the last price at each instrument's volume (`symbol volume` → last). */
type Shown = Map<string, string>;

/**
 * Adds a table to what a page showed; returns how many of its quotes the
 * other page showed too, and asserts that it showed each at the same last
 * price (a volume only grows in one walk, so the same volume is the same
 * quote).
 */
function compareShown(table: TickerRow[], shown: Shown, other: Shown): number {
  let same = 0;
  for (const row of table) {
    const key = `${row.symbol} ${row.volume}`;
    shown.set(key, row.last);
    const there = other.get(key);
    if (there === undefined) continue;
    assert.equal(row.last, there, `${row.symbol} at volume ${row.volume}: two last prices`);
    same++;
  }
  return same;
}

/** Asserts that no instrument's volume went down from one table to a later one of the same page: one walk, not two interleaved. */
function assertVolumesGrow(tables: TickerRow[][], who: string): void {
  const volumes = new Map<string, number>();
  for (const table of tables) {
    for (const row of table) {
      const volume = shownNumber(row.volume);
      const before = volumes.get(row.symbol);
      assert.ok(before === undefined || volume >= before, `${who}: ${row.symbol} went from volume ${before} to ${volume}: two walks interleaved`);
      volumes.set(row.symbol, volume);
    }
  }
}

/**
 * Takes both pages' tables, again and again for a few seconds, until many
 * quotes (an instrument at a volume) were shown by both — each at the same
 * price: pages of one stream pass through the same quotes, if not at the
 * same moment (on a busy machine each page is behind the feed by its own
 * amount, and reading a table takes seconds). Each page's volumes only grow
 * meanwhile.
 */
async function assertOneStream(one: Page, two: Page): Promise<void> {
  const tables: Array<[TickerRow[], TickerRow[]]> = [];
  const [shownByOne, shownByTwo]: Shown[] = [new Map(), new Map()];
  const started = Date.now();
  let same = 0;
  // Long enough for interleaved walks to show; a generous deadline for the quotes both showed.
  while (Date.now() - started < 3000 || tables.length < 3 || same < 1000) {
    assert.ok(Date.now() - started < 40_000, `only ${same} quotes shown by both pages`);
    const [tableOne, tableTwo] = await Promise.all([tickerTable(one), tickerTable(two)]);
    tables.push([tableOne, tableTwo]);
    compareShown(tableOne, shownByOne, shownByTwo);
    compareShown(tableTwo, shownByTwo, shownByOne);
    same = [...shownByOne.keys()].filter((key) => shownByTwo.has(key)).length;
    await sleep(250);
  }
  assertVolumesGrow(tables.map(([table]) => table), 'the page on worker 1');
  assertVolumesGrow(tables.map(([, table]) => table), 'the page on worker 2');
}

/** The figure in a tile's line "1,234 deltas /s to …" or "of 2,000 published /s" (NaN when there is none yet). */
async function figureIn(page: Page, id: string, pattern: RegExp): Promise<number> {
  const match = pattern.exec((await tickerFigure(page, id)).sub);
  return match === null ? Number.NaN : shownNumber(match[1]!);
}

/**
 * Waits until `page` shows, as deltas a second to all subscribers, a sample
 * of worker 1 and one of worker 2 added up — a sum that no single sample
 * was (a page that shows one worker's figures never gets there); and shows
 * the quotes published a second of one feed, not two.
 */
async function assertAddedUp(page: Page, samples: TickerStats[], who: string): Promise<void> {
  const shown = await eventually(
    async () => {
      const deltas = await figureIn(page, 'saved', /^([\d,]+) deltas/);
      const ones = samples.filter((sample) => sample.worker === 1 && sample.deltas > 0).map((sample) => sample.deltas);
      const twos = samples.filter((sample) => sample.worker === 2 && sample.deltas > 0).map((sample) => sample.deltas);
      const single = samples.some((sample) => sample.deltas === deltas);
      return !single && ones.some((one) => twos.some((two) => one + two === deltas)) ? deltas : undefined;
    },
    30_000,
    `${who} showing the deltas of both workers added up`,
  );
  const published = await figureIn(page, 'received', /of ([\d,]+) published/);
  assert.ok(published > 0 && published < RATE * 1.25, `${who} shows ${published} quotes published a second (and ${shown} deltas)`);
}

describe('the ticker and the game under switchboard serve --workers 2 with Redis, in Chromium', () => {
  const { chromium, options: chromiumOptions } = chromiumPeer();
  const redis = redisAvailability();
  const options = { ...chromiumOptions, ...requirePeer('redis-server', redis.available, redis.reason) };
  const suite = chromiumSuite(chromium.available && redis.available, ['--port', '0', '--workers', '2', '--api-key', KEY, '--ticker-rate', String(RATE)], { redis: true, screenshots: SCREENSHOTS });

  it('the ticker: pages on both workers show one feed\'s quotes, and the figures of both workers added up', options, async () => {
    const figures = await followStats(suite.serve.port);
    try {
      const pages = await peopleOnWorkers(suite, KEY, '/ticker', (i) => ({ name: `Trader${i}`, prefix: `Trader${i}: ` }));
      const [one, two] = [pages.get(1)!.page, pages.get(2)!.page];
      for (const page of [one, two]) await page.waitForFunction(() => document.querySelectorAll('#quotes tr').length >= 900, undefined, { timeout: 30_000 });
      await assertOneStream(one, two);
      // In parallel: reading a page that takes hundreds of quotes a second waits for its busy main thread.
      await Promise.all([assertAddedUp(one, figures.samples, 'the page on worker 1'), assertAddedUp(two, figures.samples, 'the page on worker 2')]);
      // Worker 1 runs the feed; worker 2 only reports what it delivered.
      assert.ok(figures.samples.some((sample) => sample.worker === 1 && sample.published > 0), 'worker 1 publishes quotes');
      assert.deepEqual(figures.samples.filter((sample) => sample.worker === 2 && sample.published !== 0), [], 'worker 2 publishes none');
      for (const { context } of pages.values()) await context.close();
    } finally {
      figures.close();
    }
  });

  it('the game: players on both workers share the arena, see each other, and steer from either', options, async () => {
    const pages = await peopleOnWorkers(suite, KEY, '/game', (i) => ({ name: `Player${i}`, prefix: `Player${i}: `, ready: PLAYING }));
    const [one, two] = [pages.get(1)!.page, pages.get(2)!.page];
    const [oneId, twoId] = [await ownId(one), await ownId(two)];
    assert.notEqual(oneId, twoId);
    const arena = await serveApi(suite.serve.port, KEY, 'channels', { pattern: 'game:*' });
    const subscribers = (arena.body.result?.['channels'] as Record<string, { num_clients: number }> | undefined)?.['game:arena']?.num_clients ?? 0;
    assert.ok(subscribers >= 2, `game:arena has ${subscribers} subscribers: ${JSON.stringify(arena.body)}`);
    await waitUntilSeen(one, twoId, (now) => !now.away, 'the page on worker 1 shows the player of worker 2', 20_000);
    await waitUntilSeen(two, oneId, (now) => !now.away, 'the page on worker 2 shows the player of worker 1', 20_000);

    // Keys on worker 2's page steer its player through the relay to worker 1's arena, as worker 1's page shows it; and the other way.
    await steerUntilSeen(two, twoId, one, 'the page on worker 1 shows the player of worker 2 move');
    await steerUntilSeen(one, oneId, two, 'the page on worker 2 shows the player of worker 1 move');
    await two.screenshot({ path: `${SCREENSHOTS}/game-worker-2.png` });
    for (const { context } of pages.values()) await context.close();
  });

  it('the game: when worker 1 restarts, both pages play on in its new arena', options, async () => {
    const pages = await peopleOnWorkers(suite, KEY, '/game', (i) => ({ name: `Again${i}`, prefix: `Again${i}: `, ready: PLAYING }));
    const [one, two] = [pages.get(1)!.page, pages.get(2)!.page];
    await waitUntilSeen(one, await ownId(two), (now) => !now.away, 'the page on worker 1 shows the player of worker 2', 20_000);
    const owner = workerPid(suite.serve, 1);
    assert.ok(owner !== undefined, 'worker 1 is running');
    process.kill(owner, 'SIGKILL');
    await suite.serve.waitFor(new RegExp(`worker 1 \\(pid ${owner}\\) exited`), 10_000);
    await eventually(() => {
      const pid = workerPid(suite.serve, 1);
      return pid !== undefined && pid !== owner ? pid : undefined;
    }, 20_000, 'worker 1 forked again');
    // The page on worker 2 kept its connection: its input is refused by the new arena (forbidden) or
    // answered unavailable while worker 1 starts, and it joins again. The page on worker 1 lost its
    // connection and joins again once reconnected. Each page's own player id is read again every round:
    // the new arena hands out its own ids.
    // Until then both pages still show the dead arena's last frame, both players in it: the frames
    // must be moving again.
    await eventually(async () => {
      if (!(await framesMoving(one)) || !(await framesMoving(two))) return undefined;
      const [oneId, twoId] = [await ownId(one), await ownId(two)];
      const [inOne, inTwo] = [await seen(one, twoId), await seen(two, oneId)];
      return inOne !== null && !inOne.away && inTwo !== null && !inTwo.away && oneId !== twoId ? true : undefined;
    }, 45_000, 'both pages in the new arena, each showing the other player');
    const [oneId, twoId] = [await ownId(one), await ownId(two)];
    await steerUntilSeen(two, twoId, one, 'after the restart, the page on worker 1 shows the player of worker 2 move');
    await steerUntilSeen(one, oneId, two, 'after the restart, the page on worker 2 shows the player of worker 1 move');
    for (const { context } of pages.values()) await context.close();
  });
});
