/** Hex dumps and hex input for binary WebSocket messages on the command line. */

/** Lower-case hex of `bytes`, optionally with a separator between bytes ("0001ff" or "00 01 ff"). */
export function toHex(bytes: Uint8Array, separator = ''): string {
  const digits = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  if (separator === '') return digits;
  return digits.replace(/(..)(?!$)/g, `$1${separator}`);
}

/**
 * Parses hex bytes written as "48656c6c6f", "48 65 6c 6c 6f" or "48:65:6c"
 * (an optional 0x prefix is allowed); null when the text is not whole bytes of hex.
 */
export function parseHex(text: string): Uint8Array | null {
  const digits = text.trim().replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(digits)) return null;
  return new Uint8Array(Buffer.from(digits, 'hex'));
}
