/**
 * A bounded first-in first-out queue of what a client could not send while it
 * was not connected; it is flushed in order once the connection is back.
 */

export const DEFAULT_MAX_OFFLINE_QUEUE = 100;

export class OfflineQueue<T> {
  readonly capacity: number;
  #items: T[] = [];

  /** `capacity` ≥ 0 entries; 0 means nothing is ever queued. */
  constructor(capacity: number = DEFAULT_MAX_OFFLINE_QUEUE) {
    if (!(capacity >= 0)) throw new RangeError(`maxOfflineQueue must be ≥ 0, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Appends `item`; false (and nothing queued) when the queue is full. */
  push(item: T): boolean {
    if (this.#items.length >= this.capacity) return false;
    this.#items.push(item);
    return true;
  }

  /** Removes `item` (e.g. it timed out while waiting); whether it was there. */
  remove(item: T): boolean {
    const index = this.#items.indexOf(item);
    if (index < 0) return false;
    this.#items.splice(index, 1);
    return true;
  }

  /** Empties the queue and returns its items, oldest first. */
  drain(): T[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }
}
