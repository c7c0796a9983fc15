/**
 * Channel name patterns, as `channels` (the server API and
 * `RealtimeServer.channels`) filters by them: `*` stands for any run of
 * characters (none included), every other character for itself.
 * `chat:*` matches every channel of the chat namespace; `*` every channel.
 */

/** Longest pattern accepted, in characters (a channel name is at most 255). */
export const MAX_PATTERN_LENGTH = 255;

/** A test for channel names built from `pattern`. */
export function channelMatcher(pattern: string): (channel: string) => boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return (channel) => channel === pattern;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((part) => part !== '');
  return (channel) => {
    if (channel.length < first.length + last.length || !channel.startsWith(first) || !channel.endsWith(last)) return false;
    let at = first.length;
    const end = channel.length - last.length;
    for (const part of middle) {
      const found = channel.indexOf(part, at);
      if (found === -1 || found + part.length > end) return false;
      at = found + part.length;
    }
    return true;
  };
}
