/**
 * One page of a listing (channels, connections): the first `limit` entries
 * whose key sorts after a cursor. A node answers it for every page a walk
 * asks for, over everything it holds, so it must not sort everything each
 * time: it keeps the `limit` smallest keys seen in a max-heap (one compare
 * for most entries once the heap is full) and sorts only those.
 */

/** The order of listings: JavaScript's string order (UTF-16 code units), the same on every node. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The entries of one page, in key order; `more` when entries after them were left out. */
export interface ListingPage<T> {
  entries: T[];
  more: boolean;
}

/**
 * The first `limit` (≥ 1) entries of `entries` whose key is after `after`
 * (all of them without it), sorted by key. Keys are unique within `entries`.
 */
export function firstAfter<T>(entries: Iterable<T>, after: string | undefined, limit: number, keyOf: (entry: T) => string): ListingPage<T> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`a page holds at least one entry, not ${limit}`);
  // A max-heap on the key: its root is the largest key kept, the first to go.
  const heap: Array<{ key: string; entry: T }> = [];
  let more = false;
  for (const entry of entries) {
    const key = keyOf(entry);
    if (after !== undefined && key <= after) continue;
    if (heap.length < limit) {
      heap.push({ key, entry });
      siftUp(heap, heap.length - 1);
    } else {
      more = true;
      if (key < heap[0]!.key) {
        heap[0] = { key, entry };
        siftDown(heap, 0);
      }
    }
  }
  heap.sort((a, b) => compareKeys(a.key, b.key));
  return { entries: heap.map((item) => item.entry), more };
}

function siftUp(heap: Array<{ key: string }>, index: number): void {
  const item = heap[index]!;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (heap[parent]!.key >= item.key) break;
    heap[index] = heap[parent]!;
    index = parent;
  }
  heap[index] = item;
}

function siftDown(heap: Array<{ key: string }>, index: number): void {
  const item = heap[index]!;
  const length = heap.length;
  for (;;) {
    const left = 2 * index + 1;
    if (left >= length) break;
    const right = left + 1;
    const larger = right < length && heap[right]!.key > heap[left]!.key ? right : left;
    if (heap[larger]!.key <= item.key) break;
    heap[index] = heap[larger]!;
    index = larger;
  }
  heap[index] = item;
}
