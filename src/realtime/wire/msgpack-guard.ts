/**
 * A check of MessagePack bytes before they are decoded: every array and map
 * header declares how many items follow, and the decoder allocates that many
 * slots up front. Six bytes declaring 23 million elements made it allocate
 * ~200 MB and spend ~400 ms; nested headers multiply that. This scan walks
 * the headers without allocating and refuses the payload when the items
 * declared could not fit in the bytes left (each item takes at least one
 * byte), so what the decoder allocates stays within the payload's size.
 */

/** What the scan found wrong, or null for a payload whose declared sizes fit. */
export function msgpackSizeProblem(bytes: Uint8Array): string | null {
  const length = bytes.length;
  let position = 0;
  /** Items still expected: the top-level value, then the contents of open containers. */
  let pending = 1;
  while (pending > 0) {
    if (position >= length) return 'the payload ends inside a value';
    const header = headerAt(bytes, position);
    if (header === null) return `invalid or truncated header at ${position}`;
    position += header.size + header.skip;
    if (position > length) return 'the payload ends inside a value';
    pending += header.items - 1;
    if (pending > length - position) return `a container declares ${header.items} items with ${length - position} bytes left`;
  }
  return null;
}

interface Header {
  /** Bytes of the header itself. */
  size: number;
  /** Bytes of data after the header (a string, binary or extension body; a number). */
  skip: number;
  /** Items that follow as values of their own (elements, or keys and values). */
  items: number;
}

/** Reads an unsigned big-endian integer of `width` bytes at `offset`; null when it does not fit. */
function uint(bytes: Uint8Array, offset: number, width: 1 | 2 | 4): number | null {
  if (offset + width > bytes.length) return null;
  let value = 0;
  for (let i = 0; i < width; i++) value = value * 256 + bytes[offset + i]!;
  return value;
}

function sized(bytes: Uint8Array, position: number, width: 1 | 2 | 4, extra: number, kind: 'data' | 'array' | 'map'): Header | null {
  const n = uint(bytes, position + 1, width);
  if (n === null) return null;
  const size = 1 + width + extra;
  if (kind === 'data') return { size, skip: n, items: 0 };
  return { size, skip: 0, items: kind === 'map' ? 2 * n : n };
}

/** The header at `position` (format spec: github.com/msgpack/msgpack/blob/master/spec.md). */
function headerAt(bytes: Uint8Array, position: number): Header | null {
  const b = bytes[position]!;
  if (b <= 0x7f || b >= 0xe0) return { size: 1, skip: 0, items: 0 }; // fixint
  if (b <= 0x8f) return { size: 1, skip: 0, items: 2 * (b & 0x0f) }; // fixmap
  if (b <= 0x9f) return { size: 1, skip: 0, items: b & 0x0f }; // fixarray
  if (b <= 0xbf) return { size: 1, skip: b & 0x1f, items: 0 }; // fixstr
  switch (b) {
    case 0xc0: // nil
    case 0xc2: // false
    case 0xc3: // true
      return { size: 1, skip: 0, items: 0 };
    case 0xc4: // bin 8/16/32
    case 0xd9: // str 8/16/32
      return sized(bytes, position, 1, 0, 'data');
    case 0xc5:
    case 0xda:
      return sized(bytes, position, 2, 0, 'data');
    case 0xc6:
    case 0xdb:
      return sized(bytes, position, 4, 0, 'data');
    case 0xc7: // ext 8/16/32: length, then a type byte
      return sized(bytes, position, 1, 1, 'data');
    case 0xc8:
      return sized(bytes, position, 2, 1, 'data');
    case 0xc9:
      return sized(bytes, position, 4, 1, 'data');
    case 0xcc: // uint 8, int 8
    case 0xd0:
      return { size: 1, skip: 1, items: 0 };
    case 0xcd:
    case 0xd1:
      return { size: 1, skip: 2, items: 0 };
    case 0xca: // float 32, uint 32, int 32
    case 0xce:
    case 0xd2:
      return { size: 1, skip: 4, items: 0 };
    case 0xcb: // float 64, uint 64, int 64
    case 0xcf:
    case 0xd3:
      return { size: 1, skip: 8, items: 0 };
    case 0xd4: // fixext 1/2/4/8/16: a type byte, then the data
      return { size: 2, skip: 1, items: 0 };
    case 0xd5:
      return { size: 2, skip: 2, items: 0 };
    case 0xd6:
      return { size: 2, skip: 4, items: 0 };
    case 0xd7:
      return { size: 2, skip: 8, items: 0 };
    case 0xd8:
      return { size: 2, skip: 16, items: 0 };
    case 0xdc: // array 16/32
      return sized(bytes, position, 2, 0, 'array');
    case 0xdd:
      return sized(bytes, position, 4, 0, 'array');
    case 0xde: // map 16/32
      return sized(bytes, position, 2, 0, 'map');
    case 0xdf:
      return sized(bytes, position, 4, 0, 'map');
    default: // 0xc1: never used
      return null;
  }
}
