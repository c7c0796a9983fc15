/**
 * Helpers for the tests of the demo apps: stroke batches, and the history an
 * older `serve` (before the schemas) could have left in a shared Redis.
 */
import { RedisBroker } from '../../src/realtime/broker/redis-broker.js';
import { demoNamespaces } from '../../src/cli/serve-config.js';
import { BOARD_WIDTH, type StrokeBatch } from '../../src/cli/apps/web/api.js';

/** A small stroke batch: a short line at x = seq (mod the board's width). */
export function stroke(seq: number, id = 's1'): StrokeBatch {
  return { type: 'stroke', stroke: id, seq, color: '#1c2233', size: 3, points: [seq % BOARD_WIDTH, 10, (seq % BOARD_WIDTH) + 1, 11] };
}

/**
 * Stroke batch `i` of a big board: a zigzag of 24 points in cell i of a
 * 100 × 100 grid (cells of 16 × 10 board units), ~280 bytes as JSON. Its
 * first point, (cell x + 2, cell y + 3), is always inked.
 */
export function gridBatch(i: number): StrokeBatch {
  const cellX = (i % 100) * 16;
  const cellY = Math.floor(i / 100) * 10;
  const points: number[] = [];
  for (let k = 0; k < 24; k++) points.push(cellX + 2 + (k % 12), cellY + 3 + (k % 2) * 4);
  return { type: 'stroke', stroke: `big-${i}`, seq: 0, color: '#0b57d0', size: 3, points };
}

/** What an older server without schemas let clients store. */
export const HOSTILE_CHAT: unknown[] = [null, { text: { toString: 1 }, sent: 1 }, { text: 'still readable', sent: 1_700_000_000_000 }, 'a string', { text: 42, sent: 'yesterday' }];
export const HOSTILE_BOARD: unknown[] = [null, { type: 'stroke', points: { length: 1e9 } }, stroke(0, 'old'), { type: 'stroke', stroke: 'x', seq: 0, color: '#000000', size: 3, points: [1, 2, 'x', 4] }, 7];

/** Stores the hostile entries in `chat:hostile` and `board:hostile` as an older `serve` would have, through the broker. */
export async function storeHostileHistory(url: string): Promise<void> {
  const broker = new RedisBroker({ url });
  await broker.start({ publication: () => {}, join: () => {}, leave: () => {} });
  const namespaces = demoNamespaces(1);
  const info = { client: 'old-client', user: 'guest-old', info: { name: 'Mallory', color: '#b3261e' } };
  // As JSON bytes, the way the broker keeps every publication.
  const json = (value: unknown): { data: string; info: string } => ({ data: JSON.stringify(value), info: JSON.stringify(info) });
  for (const data of HOSTILE_CHAT) await broker.publish('chat:hostile', json(data), { history: namespaces['chat']!.history! });
  for (const data of HOSTILE_BOARD) await broker.publish('board:hostile', json(data), { history: namespaces['board']!.history! });
  await broker.close();
}
