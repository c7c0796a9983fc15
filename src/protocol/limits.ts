/**
 * Size limits on what a peer may send. Going over any of them fails the
 * connection with close code 1009 (message too big) before the excess is
 * buffered.
 */
export interface MessageLimits {
  /** Largest message in bytes, after any extension decoding. Default 1 MiB. */
  maxMessageSize?: number;
  /** Largest single frame payload in bytes. Default: `maxMessageSize`. */
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
