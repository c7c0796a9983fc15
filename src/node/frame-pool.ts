/**
 * The block that small outgoing frames are encoded into, shared by every
 * connection of the process (like Node's own `Buffer` pool). A frame is
 * written once, header and payload side by side, straight into the block;
 * the frames a connection writes during one event-loop turn lie next to each
 * other there, so they go to the socket as one view of the block: no buffer
 * per frame and no second copy to join them. Frames that spill into the next
 * block make a second view; the binding joins a few large views only up to
 * 4 KiB (a copy from Node's own pool) and writes more as they are, corked
 * (one writev).
 *
 * Bytes handed out are never written again: when the block is full a new one
 * takes its place, and the old one lives as long as views of it wait in
 * socket queues. Blocks are as small as Node's own `Buffer` pool (8 KiB), so
 * a connection that stops reading pins no more memory per queued frame than
 * the frames of `Buffer.allocUnsafe` always did; larger frames are not pooled.
 */

/** Size of each block. */
export const FRAME_POOL_BLOCK = 8 * 1024;
/** Largest frame (header included) written into the pool; larger ones get a buffer of their own. */
export const MAX_POOLED_FRAME = FRAME_POOL_BLOCK >>> 1;

export class FramePool {
  /** The current block. */
  block: Buffer = Buffer.allocUnsafe(FRAME_POOL_BLOCK);
  /** Bytes of `block` handed out. */
  used = 0;

  /** Reserves `size` bytes (at most `MAX_POOLED_FRAME`); returns their offset in `this.block` (read after the call). */
  reserve(size: number): number {
    if (this.used + size > this.block.length) {
      this.block = Buffer.allocUnsafe(FRAME_POOL_BLOCK);
      this.used = 0;
    }
    const at = this.used;
    this.used = at + size;
    return at;
  }
}

/** The process's pool. */
export const framePool = new FramePool();
