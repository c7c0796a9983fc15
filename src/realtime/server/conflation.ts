/**
 * Conflation (docs/realtime.md, docs/protocol.md §5.6): what one subscriber
 * of a conflated channel is owed while its outbound buffer is over the
 * namespace's threshold — the latest publication of each key, no more. A
 * later publication of a key replaces the held one; a publication without a
 * key is held under a key of its own (it is never replaced). When the buffer
 * has drained, the held publications are written in offset order, each with
 * the number of publications before it that were superseded (`skipped`).
 */
import type { EncodedPublication } from '../wire/encoded.js';

/** A publication held for a lagging subscriber, with the epoch its push must name (if any). */
export interface HeldPublication {
  readonly key: string;
  readonly publication: EncodedPublication;
  readonly epoch: string | undefined;
}

/**
 * The latest publication per key that one subscriber has not been sent yet:
 * at most `maxKeys` of them, holding at most `maxBytes` of data (characters
 * of JSON text, bytes of MessagePack) — however many keys and however large
 * publications a publisher sends, a lagging subscriber holds no more than
 * its outbound buffer could.
 */
export class ConflationBuffer {
  private held = new Map<string, HeldPublication>();
  /** Data size of the held publications. */
  private bytes = 0;
  /** Publications that found no room (over `maxKeys` or `maxBytes`) since the last `take`: the subscriber must see a gap. */
  private lost = 0;
  /** Publications replaced by a later one of the same key, since this buffer was made. */
  superseded = 0;

  constructor(
    private readonly maxKeys: number,
    private readonly maxBytes: number,
  ) {}

  /** Publications held. */
  get size(): number {
    return this.held.size;
  }

  /** Data size of the publications held. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Holds `held` as the latest of its key. A new key over `maxKeys`, or a
   * publication that would take the held data over `maxBytes`, is not held
   * (a loss; a replaced one of its key is dropped with it).
   */
  hold(held: HeldPublication): void {
    const key = held.key;
    const previous = this.held.get(key);
    const size = dataSize(held);
    if (previous !== undefined) {
      this.superseded++;
      this.bytes -= dataSize(previous);
      this.held.delete(key);
    } else if (this.held.size >= this.maxKeys) {
      this.lost++;
      return;
    }
    if (this.bytes + size > this.maxBytes) {
      this.lost++;
      return;
    }
    this.held.set(key, held);
    this.bytes += size;
  }

  /**
   * Empties the buffer: the held publications in offset order, and whether
   * any was lost (then the first one's gap is not all superseded ones).
   */
  take(): { publications: HeldPublication[]; lost: boolean } {
    const publications = [...this.held.values()].sort((a, b) => a.publication.offset - b.publication.offset);
    const lost = this.lost > 0;
    this.held = new Map();
    this.bytes = 0;
    this.lost = 0;
    return { publications, lost };
  }

  /** Puts back what `take` gave and could not be written yet (nothing was held since). */
  putBack(publications: readonly HeldPublication[]): void {
    for (const held of publications) {
      this.held.set(held.key, held);
      this.bytes += dataSize(held);
    }
  }
}

/** The data size a held publication counts for: O(1), no scan of the text. */
function dataSize(held: HeldPublication): number {
  const info = held.publication.info;
  return held.publication.data.length + (info === undefined ? 0 : info.length);
}
