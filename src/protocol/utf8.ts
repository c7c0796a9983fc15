/**
 * UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires for text messages and
 * close reasons).
 *
 * `Utf8Validator` is incremental: it keeps the state of a sequence cut between
 * two pieces, so a text message arriving in fragments (or in TCP chunks of one
 * frame) is rejected at the first byte that cannot start or continue a valid
 * sequence, not at the end of the message.
 */
import { isUtf8 } from 'node:buffer';

/** Whole-buffer validation (native, fast); use when all bytes are at hand. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}

export class Utf8Validator {
  /** Continuation bytes still expected in the current sequence. */
  private pending = 0;
  /** Allowed range of the next continuation byte. */
  private low = 0x80;
  private high = 0xbf;

  /** True when no sequence is left open. */
  get complete(): boolean {
    return this.pending === 0;
  }

  reset(): void {
    this.pending = 0;
    this.low = 0x80;
    this.high = 0xbf;
  }

  /**
   * Feeds `bytes[start, end)`. Returns false as soon as a byte makes the
   * stream invalid; the validator must then be reset before reuse.
   */
  write(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    let i = start;
    let pending = this.pending;
    let low = this.low;
    let high = this.high;
    while (i < end) {
      const byte = bytes[i++]!;
      if (pending === 0) {
        if (byte < 0x80) {
          // ASCII run: the common case, no state to carry.
          while (i < end && bytes[i]! < 0x80) i++;
          continue;
        }
        if (byte >= 0xc2 && byte <= 0xdf) {
          pending = 1;
          low = 0x80;
          high = 0xbf;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          pending = 2;
          low = byte === 0xe0 ? 0xa0 : 0x80; // no overlong 3-byte forms
          high = byte === 0xed ? 0x9f : 0xbf; // no UTF-16 surrogates
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          pending = 3;
          low = byte === 0xf0 ? 0x90 : 0x80; // no overlong 4-byte forms
          high = byte === 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
        } else {
          this.pending = pending;
          return false;
        }
      } else {
        if (byte < low || byte > high) {
          this.pending = pending;
          return false;
        }
        pending--;
        low = 0x80;
        high = 0xbf;
      }
    }
    this.pending = pending;
    this.low = low;
    this.high = high;
    return true;
  }
}
