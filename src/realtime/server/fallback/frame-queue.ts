/**
 * The events an HTTP fallback session keeps (docs/protocol.md §11.5): a
 * queue of shared frames, oldest first, in a ring of slots. Adding one and
 * forgetting the oldest allocate nothing while the ring has room: the ring
 * doubles when full and halves when an eighth full, so a session that keeps
 * a steady number of events keeps one small array for its whole life (a
 * plain array compacted now and then allocated anew at every compaction,
 * and again as it grew back — per event and per session, during a burst).
 */
const MIN_CAPACITY = 16;

export class FrameQueue<T> {
  private slots: Array<T | undefined> = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
  /** The slot of the oldest item. */
  private start = 0;
  private count = 0;

  /** Items queued. */
  get length(): number {
    return this.count;
  }

  /** Adds `item` after the newest. */
  push(item: T): void {
    if (this.count === this.slots.length) this.resize(this.slots.length * 2);
    this.slots[(this.start + this.count) % this.slots.length] = item;
    this.count++;
  }

  /** The item `index` places after the oldest (0: the oldest). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.slots[(this.start + index) % this.slots.length];
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.start];
    this.slots[this.start] = undefined;
    this.start = (this.start + 1) % this.slots.length;
    this.count--;
    if (this.slots.length > MIN_CAPACITY && this.count <= this.slots.length / 8) this.resize(this.slots.length / 2);
    return item;
  }

  /** Forgets every item (and a ring grown large). */
  clear(): void {
    if (this.slots.length > MIN_CAPACITY) this.slots = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    else this.slots.fill(undefined);
    this.start = 0;
    this.count = 0;
  }

  private resize(capacity: number): void {
    const slots = new Array<T | undefined>(capacity).fill(undefined);
    for (let index = 0; index < this.count; index++) slots[index] = this.slots[(this.start + index) % this.slots.length];
    this.slots = slots;
    this.start = 0;
  }
}
