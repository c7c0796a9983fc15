/**
 * The ids of the fallback sessions this process held and that have ended,
 * kept for a while: a session lives in the process that opened it, so an
 * uplink request naming one of these can be answered 404 at once, before its
 * body is read (a client still sending to a session closed for its uplink
 * window would otherwise have each body read, up to the body limit, only to
 * be told the session is gone). Bounded in count and in time.
 */

/** How long an ended session's id is remembered, in ms. */
export const ENDED_SESSION_MEMORY = 60_000;
/** At most this many ids are remembered (the oldest are forgotten first). */
export const MAX_ENDED_SESSIONS = 4096;

export class EndedSessions {
  /** id → when it ended (ms, `now()`), oldest first. */
  private readonly ended = new Map<string, number>();

  constructor(
    private readonly memory = ENDED_SESSION_MEMORY,
    private readonly max = MAX_ENDED_SESSIONS,
    private readonly now: () => number = Date.now,
  ) {}

  add(id: string): void {
    this.ended.delete(id);
    this.ended.set(id, this.now());
    this.prune();
  }

  /** True when the session `id` ended here within the memory. */
  has(id: string): boolean {
    const at = this.ended.get(id);
    if (at === undefined) return false;
    if (this.now() - at < this.memory) return true;
    this.prune();
    return false;
  }

  get size(): number {
    return this.ended.size;
  }

  private prune(): void {
    const oldest = this.now() - this.memory;
    for (const [id, at] of this.ended) {
      if (at > oldest && this.ended.size <= this.max) break;
      this.ended.delete(id);
    }
  }
}
