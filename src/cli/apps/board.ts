/**
 * The whiteboard's server methods. A board is the channel `board:<name>`
 * (stroke batches, kept for a day); where it was last cleared is recorded in
 * `boardmeta:<name>`, a server-published channel that keeps one entry.
 *
 * `board.snapshot` reads that one entry and the board's position — never the
 * board's history — and answers where a late joiner subscribes *since*: the
 * last clear, or the oldest event the board's history can still hold. The
 * page's subscription then recovers the events after it (the SDK replays
 * them), so the reply is the same few bytes for an empty board and for one
 * of 10,000 batches, and whatever old data the history holds is never
 * decoded here.
 */
import { RpcError } from '../../realtime/server/errors.js';
import type { NamespaceOptions } from '../../realtime/server/namespaces.js';
import type { RealtimeServer } from '../../realtime/server/server.js';
import { BOARD_META_NAMESPACE, ROOM_NAME, type BoardClearMark, type BoardPosition, type DemoApi } from './web/api.js';

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
 * Where to subscribe to `board:<board>` from. `historySize` is the board
 * namespace's history size: events older than the last `historySize` are
 * gone, so the position is never before them.
 */
export async function boardSnapshot(rt: RealtimeServer<DemoApi>, board: unknown, historySize: number): Promise<BoardPosition> {
  const name = boardName(board);
  const [mark, position] = await Promise.all([rt.history(`${BOARD_META_NAMESPACE}:${name}`, { limit: 1 }), rt.history(`board:${name}`, { limit: 0 })]);
  const oldestKept = Math.max(0, position.offset - historySize);
  const clear = mark.publications[mark.publications.length - 1]?.data;
  const cleared = isClearMark(clear) && clear.epoch === position.epoch && clear.offset <= position.offset ? clear.offset : 0;
  return { offset: Math.max(cleared, oldestKept), epoch: position.epoch };
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
