/**
 * Message sizes against the largest message the server reads (its connect
 * result says): a message over it would cost the connection (1009), so the
 * client refuses it itself.
 */

/**
 * The size in bytes of a payload over `limit`, or null when it fits (or
 * there is no limit). Text is measured as UTF-8 only when it could be over.
 */
export function oversize(payload: string | Uint8Array, limit: number | undefined): number | null {
  if (limit === undefined) return null;
  if (typeof payload !== 'string') return payload.length > limit ? payload.length : null;
  if (payload.length * 3 <= limit) return null;
  const size = utf8Length(payload);
  return size > limit ? size : null;
}

/** Bytes of a string in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length && (text.charCodeAt(index + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}
