/**
 * A realistic market-data stream for measuring conflation and delta
 * compression: order books of `symbols` instruments, ten levels a side, where
 * each update moves one or two levels (a size changes, sometimes a price),
 * plus the last trade — seeded, so runs compare.
 */
export interface BookUpdate {
  symbol: string;
  seq: number;
  time: number;
  last: number;
  bids: Array<[price: number, size: number]>;
  asks: Array<[price: number, size: number]>;
}

export function* orderBookUpdates(count: number, symbols = 8, seed = 1): Generator<BookUpdate> {
  let state = seed >>> 0 || 1;
  const random = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const books = Array.from({ length: symbols }, (_, i) => {
    const mid = Math.round((50 + i * 13.7) * 100) / 100;
    const level = (side: number, n: number): [number, number] => [Math.round((mid + side * (n + 1) * 0.01) * 100) / 100, 100 * (1 + Math.floor(random() * 50))];
    return {
      symbol: `SYM${String(i).padStart(4, '0')}`,
      seq: 0,
      last: mid,
      bids: Array.from({ length: 10 }, (_, n) => level(-1, n)),
      asks: Array.from({ length: 10 }, (_, n) => level(1, n)),
    };
  });
  for (let i = 0; i < count; i++) {
    const book = books[Math.floor(random() * books.length)]!;
    book.seq++;
    const moves = 1 + Math.floor(random() * 2);
    for (let m = 0; m < moves; m++) {
      const side = random() < 0.5 ? book.bids : book.asks;
      const n = Math.floor(random() * side.length);
      side[n] = [side[n]![0], 100 * (1 + Math.floor(random() * 50))];
    }
    if (random() < 0.3) book.last = book.bids[0]![0];
    yield { symbol: book.symbol, seq: book.seq, time: 1_733_370_000_000 + i * 7, last: book.last, bids: book.bids.map((level) => [...level] as [number, number]), asks: book.asks.map((level) => [...level] as [number, number]) };
  }
}
