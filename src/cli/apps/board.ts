/**
 * The whiteboard's server methods. A board is the channel `board:<name>`
 * (stroke batches, kept for a day); where it was last cleared is recorded in
 * `boardmeta:<name>`, a server-published channel that keeps one entry.
 *
 * `board.snapshot` reads that one entry and the board's position — not the
 * board's history — and answers where a late joiner subscribes *since*: the
 * last clear, or just before the oldest event the board still keeps. The
 * page's subscription then recovers the events after it (the SDK replays
 * them), so the reply is the same few bytes for an empty board and for one
 * of 10,000 batches, and the data the history holds is never looked at
 * here. Finding the oldest kept event takes one probe of one publication
 * (its offset only); when the oldest events expired (a board older than its
 * history's ttl) but are still in a Redis stream, a binary search over
 * offsets, at most MAX_PROBES probes of one publication each.
 */
import { RpcError } from '../../realtime/server/errors.js';
import type { NamespaceOptions } from '../../realtime/server/namespaces.js';
import type { RealtimeServer } from '../../realtime/server/server.js';
import { BOARD_META_NAMESPACE, ROOM_NAME, type BoardClearMark, type BoardPosition, type DemoApi } from './web/api.js';

/** Most one-publication probes `board.snapshot` makes to find the oldest event a board keeps. */
export const MAX_PROBES = 40;

/** How long a board's clear mark is kept (ms): as long as the demo keeps a board's strokes. */
export const BOARD_META_TTL = 24 * 3_600_000;

/** The namespace of the clear marks: one entry per board, not publishable by clients, without publisher info. */
export const BOARD_META_OPTIONS: NamespaceOptions = { history: { size: 1, ttl: BOARD_META_TTL }, publish: false, publisherInfo: false };

function boardName(board: unknown): string {
  if (typeof board !== 'string' || !ROOM_NAME.test(board)) throw new RpcError('invalid_data', 'board: 1-40 letters, digits, - or _');
  return board;
}

function isClearMark(data: unknown): data is BoardClearMark {
  if (typeof data !== 'object' || data === null) return false;
  const { offset, epoch } = data as Record<string, unknown>;
  return Number.isSafeInteger(offset) && (offset as number) >= 0 && typeof epoch === 'string';
}

/**
 * The offset of the first publication after `after` that `channel` still
 * keeps (in `epoch`), or undefined when it keeps none after it. Reads at
 * most one publication, and only its offset.
 */
async function firstKeptAfter(rt: RealtimeServer<DemoApi>, channel: string, after: number, epoch: string): Promise<number | undefined> {
  const probe = await rt.history(channel, { since: { offset: after, epoch }, limit: 1 });
  return probe.epoch === epoch ? probe.publications[0]?.offset : undefined;
}

/**
 * Where a subscription since `from` can recover from: just before the
 * oldest publication kept after `from` (`end`, the stream's offset, when
 * none is). Expired publications may still sit in a Redis stream before
 * the kept ones, so when the first probe finds nothing, a binary search
 * finds the smallest `after` whose probe finds a kept one (kept-ness only
 * grows with the offset: publications expire oldest first).
 */
async function recoverableFrom(rt: RealtimeServer<DemoApi>, channel: string, from: number, end: number, epoch: string): Promise<number> {
  if (from >= end) return end;
  const first = await firstKeptAfter(rt, channel, from, epoch);
  if (first !== undefined) return first - 1;
  const newest = await firstKeptAfter(rt, channel, end - 1, epoch);
  if (newest === undefined) return end;
  let low = from;
  let high = end - 1;
  let found = newest;
  for (let probes = 2; low + 1 < high && probes < MAX_PROBES; probes++) {
    const middle = Math.floor((low + high) / 2);
    const kept = await firstKeptAfter(rt, channel, middle, epoch);
    if (kept === undefined) low = middle;
    else [high, found] = [middle, kept];
  }
  return found - 1;
}

/**
 * Where to subscribe to `board:<board>` from: the last clear, or just
 * before the oldest event the board keeps when that is later.
 * `historySize` is the board namespace's history size: events older than
 * the last `historySize` are gone whatever the probes say.
 */
export async function boardSnapshot(rt: RealtimeServer<DemoApi>, board: unknown, historySize: number): Promise<BoardPosition> {
  const name = boardName(board);
  const channel = `board:${name}`;
  const [mark, position] = await Promise.all([rt.history(`${BOARD_META_NAMESPACE}:${name}`, { limit: 1 }), rt.history(channel, { limit: 0 })]);
  const clear = mark.publications[mark.publications.length - 1]?.data;
  const cleared = isClearMark(clear) && clear.epoch === position.epoch && clear.offset <= position.offset ? clear.offset : 0;
  const from = Math.max(cleared, position.offset - historySize, 0);
  return { offset: await recoverableFrom(rt, channel, from, position.offset, position.epoch), epoch: position.epoch };
}

/**
 * Clears `board:<board>` for everyone: publishes the clear event, then
 * records its position as the board's clear mark. Two clears at once may
 * record out of order; a late joiner then replays from the earlier one and
 * meets the later clear in the stream, which empties its board all the same.
 */
export async function clearBoard(rt: RealtimeServer<DemoApi>, board: unknown): Promise<BoardPosition> {
  const name = boardName(board);
  const cleared = await rt.publish(`board:${name}`, { type: 'clear' });
  await rt.publish(`${BOARD_META_NAMESPACE}:${name}`, { offset: cleared.offset, epoch: cleared.epoch });
  return cleared;
}

/** Registers `board.snapshot` and `board.clear`. */
export function registerBoardMethods(rt: RealtimeServer<DemoApi>, historySize: number): void {
  rt.method('board.snapshot', ({ board }) => boardSnapshot(rt, board, historySize));
  rt.method('board.clear', ({ board }) => clearBoard(rt, board));
}
