/**
 * Masking (RFC 6455 §5.3): XOR of a payload with a 4-byte key, repeated.
 *
 * Every byte a client sends and a server receives goes through here, so it is
 * fast: runs are XORed 32 bits at a time (unrolled), and long runs go through
 * a small WebAssembly routine that XORs 16 bytes per instruction (SIMD) when
 * the runtime supports it. The module is assembled below from its bytes; its
 * text form is in the comment next to them.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Runs shorter than this are masked byte by byte (a word view costs more than it saves). */
const WORD_THRESHOLD = 32;
/**
 * Runs at least this long use the SIMD routine: from 1 KiB on, copying in and
 * out costs less than the word loop saves (`bench/mask-speed.mjs` against a build
 * with a 64 KiB threshold: 1 KiB 15 % faster, 4 KiB and 16 KiB about 2x).
 */
const SIMD_THRESHOLD = 1024;
/** The SIMD routine's memory: one 1 MiB window, reused; longer runs go through it in slices. */
const SIMD_WINDOW = 1024 * 1024;

/*
 * (module
 *   (memory (export "memory") 16)
 *   (func (export "mask") (param $ptr i32) (param $len i32) (param $key i32)
 *     (local $end i32) (local $k v128)
 *     (local.set $k (i32x4.splat (local.get $key)))
 *     (local.set $end (i32.add (local.get $ptr) (i32.and (local.get $len) (i32.const -16))))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $ptr) (local.get $end)))
 *       (v128.store (local.get $ptr) (v128.xor (v128.load (local.get $ptr)) (local.get $k)))
 *       (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
 *       (br 0)))))
 */
const SIMD_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00, // type: (i32 i32 i32) -> ()
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x05, 0x03, 0x01, 0x00, 0x10, // memory: 16 pages (1 MiB)
  0x07, 0x11, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x04, 0x6d, 0x61, 0x73, 0x6b, 0x00, 0x00, // exports
  0x0a, 0x3e, 0x01, 0x3c, // code: one body of 60 bytes
  0x02, 0x01, 0x7f, 0x01, 0x7b, // locals: i32, v128
  0x20, 0x02, 0xfd, 0x11, 0x21, 0x04, // k = i32x4.splat(key)
  0x20, 0x00, 0x20, 0x01, 0x41, 0x70, 0x71, 0x6a, 0x21, 0x03, // end = ptr + (len & -16)
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0x00, 0x20, 0x03, 0x4f, 0x0d, 0x01, // br_if 1 (ptr >= end)
  0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x04, 0xfd, 0x51, 0xfd, 0x0b, 0x04, 0x00, // *ptr ^= k
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // ptr += 16
  0x0c, 0x00, 0x0b, 0x0b, 0x0b, // br 0, end, end, end
]);

interface SimdMasker {
  memory: Uint8Array;
  mask: (pointer: number, length: number, key: number) => void;
}

function loadSimd(): SimdMasker | null {
  try {
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(SIMD_MODULE)) return null;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(SIMD_MODULE));
    const exports = instance.exports as { memory: WebAssembly.Memory; mask: SimdMasker['mask'] };
    return { memory: new Uint8Array(exports.memory.buffer), mask: exports.mask };
  } catch {
    return null;
  }
}

const simd = loadSimd();

/** True when long runs are masked with WebAssembly SIMD. */
export const simdMasking = simd !== null;

/**
 * XORs `source[start, end)` with the mask key into `target` at `targetStart`.
 * `keyOffset` is the position in the payload of `source[start]`, so a payload
 * that arrives in pieces is unmasked piece by piece. Source and target may be
 * the same buffer (in-place unmasking).
 */
export function applyMask(
  source: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  targetStart: number,
  key: Uint8Array,
  keyOffset: number,
): void {
  // The same view and offset first: reading `.buffer` is a call into the runtime.
  const inPlace = source === target ? start === targetStart : source.buffer === target.buffer && source.byteOffset + start === target.byteOffset + targetStart;
  if (!inPlace && simd !== null && end - start >= SIMD_THRESHOLD) {
    // Through the SIMD window from source to target: two copies, no third.
    const k = keyOffset & 3;
    const done = maskWithSimd(simd, source, start, end, keyWord(key, k), target, targetStart);
    for (let i = done; i < end; i++) target[targetStart + (i - start)] = source[i]! ^ key[(k + (i - start)) & 3]!;
    return;
  }
  if (!inPlace) {
    // Copy natively, then mask in place: the word loop needs source and target aligned alike.
    target.set(source.subarray(start, end), targetStart);
  }
  maskInPlace(target, targetStart, targetStart + (end - start), key, keyOffset);
}

/** The key as a 32-bit word in memory order, starting at key byte `k`. */
function keyWord(key: Uint8Array, k: number): number {
  const b0 = key[k & 3]!;
  const b1 = key[(k + 1) & 3]!;
  const b2 = key[(k + 2) & 3]!;
  const b3 = key[(k + 3) & 3]!;
  return LITTLE_ENDIAN ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
}

/**
 * A word view of all the memory under the last view masked in place by the
 * word loop. The frames of one socket read are unmasked in place through one
 * view of the read's buffer (the parser passes the chunk, not a view per
 * frame), so the word view (an allocation, and a call into the runtime to
 * read `.buffer`) is made once per read, not once per frame. Rebuilt for
 * another view, or when the cached one does not reach `byteEnd` (memory
 * detached or resized since). Keeps at most one buffer alive past its use.
 */
let cachedBytes: Uint8Array | null = null;
let cachedView: Int32Array<ArrayBufferLike> = new Int32Array(0);

function wordView(bytes: Uint8Array, byteEnd: number): Int32Array {
  if (bytes !== cachedBytes || cachedView.length < byteEnd >>> 2) {
    const memory = bytes.buffer;
    cachedView = new Int32Array(memory, 0, memory.byteLength >>> 2);
    cachedBytes = bytes;
  }
  return cachedView;
}

/** XORs `bytes[start, end)` with the key in place, where `bytes[start]` is payload byte `keyOffset`. */
function maskInPlace(bytes: Uint8Array, start: number, end: number, key: Uint8Array, keyOffset: number): void {
  let i = start;
  let k = keyOffset & 3;
  if (simd !== null && end - start >= SIMD_THRESHOLD) {
    i = maskWithSimd(simd, bytes, start, end, keyWord(key, k), bytes, start);
  } else if (end - start >= WORD_THRESHOLD) {
    // Bytes up to a 4-byte boundary of the underlying memory, then whole words.
    const base = bytes.byteOffset;
    while (((base + i) & 3) !== 0) {
      bytes[i] = bytes[i]! ^ key[k]!;
      k = (k + 1) & 3;
      i++;
    }
    const words = (end - i) >>> 2;
    const word = keyWord(key, k);
    const first = (base + i) >>> 2;
    const last = first + words;
    const view = wordView(bytes, last << 2);
    const unrolled = first + (words & ~3);
    let w = first;
    for (; w < unrolled; w += 4) {
      view[w] = view[w]! ^ word;
      view[w + 1] = view[w + 1]! ^ word;
      view[w + 2] = view[w + 2]! ^ word;
      view[w + 3] = view[w + 3]! ^ word;
    }
    for (; w < last; w++) view[w] = view[w]! ^ word;
    i += words << 2;
  }
  while (i < end) {
    bytes[i] = bytes[i]! ^ key[k]!;
    k = (k + 1) & 3;
    i++;
  }
}

/**
 * Masks the whole 16-byte blocks of `source[start, end)` through the SIMD
 * window into `target` from `targetStart` (which may be the same place);
 * returns the source index where it stopped.
 */
function maskWithSimd(masker: SimdMasker, source: Uint8Array, start: number, end: number, word: number, target: Uint8Array, targetStart: number): number {
  let i = start;
  const blocks = end - ((end - start) & 15);
  // In place, the source is a parser's chunk: read through one plain view of
  // its memory per chunk (as the word loop does) rather than a Buffer view per
  // frame, whose `.buffer` is a call into the runtime.
  const inPlace = source === target;
  const whole = inPlace ? byteView(source, source.byteOffset + end) : source;
  const base = inPlace ? source.byteOffset : 0;
  while (i < blocks) {
    const length = Math.min(SIMD_WINDOW, blocks - i);
    masker.memory.set(whole.subarray(base + i, base + i + length));
    masker.mask(0, length, word);
    target.set(windowView(masker, length), targetStart + (i - start));
    i += length;
  }
  return i;
}

/** A byte view of all the memory under the last view masked in place through the SIMD window (see `wordView`). */
let cachedSimdBytes: Uint8Array | null = null;
let cachedByteView: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

function byteView(bytes: Uint8Array, byteEnd: number): Uint8Array {
  if (bytes !== cachedSimdBytes || cachedByteView.length < byteEnd) {
    cachedByteView = new Uint8Array(bytes.buffer);
    cachedSimdBytes = bytes;
  }
  return cachedByteView;
}

/** The first `length` bytes of the SIMD window (the view of the last length asked for is reused). */
let windowLength = -1;
let windowBytes: Uint8Array = new Uint8Array(0);

function windowView(masker: SimdMasker, length: number): Uint8Array {
  if (length !== windowLength) {
    windowBytes = masker.memory.subarray(0, length);
    windowLength = length;
  }
  return windowBytes;
}
