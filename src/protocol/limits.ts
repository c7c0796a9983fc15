/**
 * Size limits on what a peer may send. Going over any of them fails the
 * connection with close code 1009 (message too big) before the excess is
 * buffered.
 */
export interface MessageLimits {
  /**
   * Largest message in bytes, after any extension decoding. Default 1 MiB.
   * A compressed message (RSV1, permessage-deflate) may take up to
   * `compressedBound(maxMessageSize)` bytes on the wire, since deflate makes
   * incompressible data slightly larger; its decoded size is held to
   * `maxMessageSize` itself.
   */
  maxMessageSize?: number;
  /** Largest single frame payload in bytes (`compressedBound` of it for a compressed message). Default: `maxMessageSize`. */
  maxFrameSize?: number;
  /** Most frames in one fragmented message. Default 1024. */
  maxFragments?: number;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
export const DEFAULT_MAX_FRAGMENTS = 1024;

export function resolveLimits(limits: MessageLimits = {}): Required<MessageLimits> {
  const maxMessageSize = limits.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  return {
    maxMessageSize,
    maxFrameSize: limits.maxFrameSize ?? maxMessageSize,
    maxFragments: limits.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
  };
}

/**
 * The most bytes `size` bytes may take once deflated: zlib's conservative
 * `deflateBound` (stored blocks of any memLevel and window, 5 header bytes
 * per block, `size + size/8 + size/64 + 5`), plus room for the empty blocks
 * of sync flushes. Incompressible data of `maxMessageSize` bytes fits; a
 * decompression bomb still stops at `maxMessageSize` decoded bytes.
 */
export function compressedBound(size: number): number {
  return size + Math.ceil(size / 8) + Math.ceil(size / 64) + 64;
}

/**
 * The limits a frame parser checks, resolved once: the decoded limits and the
 * wire limits of a compressed message. Immutable, so every connection with
 * the same limits shares one (see `frameLimitsOf`).
 */
export interface FrameLimits {
  readonly maxMessageSize: number;
  readonly maxFrameSize: number;
  readonly maxFragments: number;
  /** `compressedBound(maxMessageSize)`: a compressed message's limit on the wire. */
  readonly maxCompressedMessageSize: number;
  /** `compressedBound(maxFrameSize)`. */
  readonly maxCompressedFrameSize: number;
}

/** The last limits resolved: a server's connections all ask for the same ones. */
let lastFrameLimits: FrameLimits | null = null;

/**
 * The resolved `FrameLimits` of `limits`; the same frozen object as the
 * previous call's when the values are equal, so that connections hold one
 * reference instead of a copy of each number.
 */
export function frameLimitsOf(limits: MessageLimits = {}): FrameLimits {
  const { maxMessageSize, maxFrameSize, maxFragments } = resolveLimits(limits);
  const last = lastFrameLimits;
  if (last !== null && last.maxMessageSize === maxMessageSize && last.maxFrameSize === maxFrameSize && last.maxFragments === maxFragments) {
    return last;
  }
  lastFrameLimits = Object.freeze({
    maxMessageSize,
    maxFrameSize,
    maxFragments,
    maxCompressedMessageSize: compressedBound(maxMessageSize),
    maxCompressedFrameSize: compressedBound(maxFrameSize),
  });
  return lastFrameLimits;
}
