/**
 * Presence sets with a time to live, as the memory broker keeps them: per
 * channel, the members by client id, each with the time it expires unless
 * refreshed. Expiry deadlines sit in a min-heap, so finding the expired
 * members costs O(log n) each instead of a scan of every member.
 *
 * Times are monotonic milliseconds passed in by the caller.
 */
import type { PresenceMember } from '../wire/messages.js';

/** A member and when it expires. */
interface Slot {
  readonly channel: string;
  member: PresenceMember;
  expiresAt: number;
}

/** A deadline in the heap. Stale once its slot was removed, replaced or refreshed. */
interface Deadline {
  readonly at: number;
  readonly slot: Slot;
}

/** A member that left a channel. */
export interface PresenceChange {
  channel: string;
  member: PresenceMember;
}

/** Rebuild the heap when it holds this many more deadlines than twice the live members. */
const HEAP_SLACK = 64;

/** A copy of a member without absent fields. */
export function copyMember(member: PresenceMember): PresenceMember {
  const copy: PresenceMember = { client: member.client, user: member.user };
  if (member.info !== undefined) copy.info = member.info;
  return copy;
}

/** Throws a RangeError unless `ttl` is a positive number of ms (Infinity: never expires). */
function checkTtl(ttl: number): void {
  if (typeof ttl !== 'number' || !(ttl > 0)) {
    throw new RangeError(`presence ttl must be a positive number of ms, got ${String(ttl)}`);
  }
}

/** A binary min-heap of deadlines. */
class DeadlineHeap {
  #items: Deadline[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Deadline | undefined {
    return this.#items[0];
  }

  push(item: Deadline): void {
    const items = this.#items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (items[parent]!.at <= item.at) break;
      items[index] = items[parent]!;
      index = parent;
    }
    items[index] = item;
  }

  pop(): Deadline | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.at < items[left]!.at ? right : left;
      if (items[child]!.at >= last.at) break;
      items[index] = items[child]!;
      index = child;
    }
    items[index] = last;
    return top;
  }

  clear(): void {
    this.#items = [];
  }
}

/** Every channel's presence set. */
export class PresenceRegistry {
  #channels = new Map<string, Map<string, Slot>>();
  #heap = new DeadlineHeap();
  #count = 0;

  /** How many members there are over all channels. */
  get size(): number {
    return this.#count;
  }

  /**
   * Adds `member` to `channel` or, when its client is already there, updates
   * it and moves its expiry to `now + ttl`. Returns whether it is new.
   */
  add(channel: string, member: PresenceMember, ttl: number, now: number): boolean {
    checkTtl(ttl);
    let members = this.#channels.get(channel);
    if (members === undefined) this.#channels.set(channel, (members = new Map()));
    const expiresAt = now + ttl;
    const existing = members.get(member.client);
    const slot = existing ?? { channel, member, expiresAt };
    slot.member = copyMember(member);
    slot.expiresAt = expiresAt;
    if (existing === undefined) {
      members.set(member.client, slot);
      this.#count++;
    }
    if (Number.isFinite(expiresAt)) this.#pushDeadline(slot);
    return existing === undefined;
  }

  /** Removes the member of `channel` with this client id; returns it when it was there. */
  remove(channel: string, client: string): PresenceMember | undefined {
    const members = this.#channels.get(channel);
    const slot = members?.get(client);
    if (members === undefined || slot === undefined) return undefined;
    this.#delete(members, slot);
    return slot.member;
  }

  /** Copies of the members of `channel`, in the order they joined. */
  members(channel: string): PresenceMember[] {
    const members = this.#channels.get(channel);
    if (members === undefined) return [];
    return [...members.values()].map((slot) => copyMember(slot.member));
  }

  /** Removes every member whose expiry is at or before `now`; returns them, earliest first. */
  expire(now: number): PresenceChange[] {
    const left: PresenceChange[] = [];
    for (let next = this.#heap.peek(); next !== undefined && next.at <= now; next = this.#heap.peek()) {
      this.#heap.pop();
      const { slot } = next;
      const members = this.#channels.get(slot.channel);
      if (members === undefined || members.get(slot.member.client) !== slot || slot.expiresAt !== next.at) continue;
      this.#delete(members, slot);
      left.push({ channel: slot.channel, member: slot.member });
    }
    return left;
  }

  /** The earliest time a member may expire (possibly a stale deadline), if any. */
  nextDeadline(): number | undefined {
    return this.#heap.peek()?.at;
  }

  /** Forgets every member. */
  clear(): void {
    this.#channels.clear();
    this.#heap.clear();
    this.#count = 0;
  }

  #delete(members: Map<string, Slot>, slot: Slot): void {
    members.delete(slot.member.client);
    if (members.size === 0) this.#channels.delete(slot.channel);
    this.#count--;
  }

  /** Records the slot's current expiry, rebuilding the heap when stale deadlines pile up. */
  #pushDeadline(slot: Slot): void {
    this.#heap.push({ at: slot.expiresAt, slot });
    if (this.#heap.size > this.#count * 2 + HEAP_SLACK) this.#rebuildHeap();
  }

  /** A heap of exactly one deadline per live member that can expire. */
  #rebuildHeap(): void {
    this.#heap.clear();
    for (const members of this.#channels.values()) {
      for (const slot of members.values()) {
        if (Number.isFinite(slot.expiresAt)) this.#heap.push({ at: slot.expiresAt, slot });
      }
    }
  }
}
