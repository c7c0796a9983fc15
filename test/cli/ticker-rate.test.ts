// `switchboard serve --ticker-rate N`: the feed publishes N quotes a second
// (measured on the quotes' own times, over a few seconds of a subscriber).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isQuote, TICKER_QUOTES, type Quote } from '../../src/cli/apps/web/ticker-api.js';
import { eventually, feedRate, guest, startServe } from './serve-helpers.js';

describe('switchboard serve --ticker-rate', () => {
  for (const rate of [200, 2000]) {
    it(`${rate} quotes a second`, async () => {
      const serve = await startServe(['--port', '0', ...(rate === 2000 ? [] : ['--ticker-rate', String(rate)])]);
      const { client } = await guest(serve.port, 'Rate');
      try {
        const quotes: Quote[] = [];
        client.subscribe(TICKER_QUOTES).on('publication', ({ data }) => {
          if (isQuote(data)) quotes.push(data);
        });
        await eventually(() => (quotes.length >= rate * 3 ? true : undefined), 30_000, `${rate * 3} quotes`);
        const measured = feedRate(quotes);
        assert.ok(measured > rate * 0.8 && measured < rate * 1.25, `${Math.round(measured)} quotes a second of the feed's time`);
      } finally {
        client.close();
        await serve.stop();
      }
    });
  }
});
