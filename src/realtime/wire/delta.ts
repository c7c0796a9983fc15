/**
 * Delta compression of publication data (docs/protocol.md §5.4): a target
 * value described as copies from a base value the receiver already holds
 * and literal inserts, with the target's length and checksum so that the
 * receiver can verify what it rebuilt.
 *
 * A delta is itself a plain value, carried as the `data` of a publication
 * push in the connection's own encoding:
 *
 *     [length, checksum, op, op, ...]
 *
 * where each op is either two integers `start, count` (copy `count` units of
 * the base from `start`) or a literal: a string for text (JSON), bytes for
 * MessagePack. Units are UTF-16 code units of a text, or bytes. `checksum` is
 * the 32-bit FNV-1a hash of the target's units; `length` is their count.
 */

/** A delta as it travels: `[length, checksum, ...ops]`. */
export type Delta = Array<number | string | Uint8Array>;

/** A delta that does not apply to the base it was given (malformed, out of range, or a checksum mismatch). */
export class DeltaError extends Error {
  override readonly name = 'DeltaError';
}

/** Units compared at a time when looking for copies. */
const SEED = 4;
/** Shortest copy worth its two integers on the wire. */
const MIN_COPY = 7;

/** 32-bit FNV-1a over the code units of a text, or over bytes. */
export function checksum(value: string | Uint8Array): number {
  let hash = 0x811c9dc5;
  if (typeof value === 'string') {
    for (let i = 0; i < value.length; i++) {
      hash ^= value.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
  } else {
    for (let i = 0; i < value.length; i++) {
      hash ^= value[i]!;
      hash = Math.imul(hash, 0x01000193);
    }
  }
  return hash >>> 0;
}

/** Bytes as a string of the same units (one char per byte), so that one search serves both kinds. */
function bytesAsText(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

/** The copy/insert ops that rebuild `target` from `base`, as [start, count] pairs and [literalStart, literalEnd) ranges of target. */
type Op = { copy: true; start: number; count: number } | { copy: false; from: number; to: number };

function findOps(base: string, target: string): Op[] {
  const ops: Op[] = [];
  const index = new Map<string, number>();
  for (let i = 0; i + SEED <= base.length; i++) {
    const seed = base.slice(i, i + SEED);
    if (!index.has(seed)) index.set(seed, i);
  }
  let literal = 0;
  let i = 0;
  while (i + SEED <= target.length) {
    const at = index.get(target.slice(i, i + SEED));
    if (at === undefined) {
      i++;
      continue;
    }
    let count = SEED;
    while (at + count < base.length && i + count < target.length && base.charCodeAt(at + count) === target.charCodeAt(i + count)) count++;
    let back = 0;
    while (back < i - literal && back < at && base.charCodeAt(at - back - 1) === target.charCodeAt(i - back - 1)) back++;
    if (count + back < MIN_COPY) {
      i++;
      continue;
    }
    if (i - back > literal) ops.push({ copy: false, from: literal, to: i - back });
    ops.push({ copy: true, start: at - back, count: count + back });
    i += count;
    literal = i;
  }
  if (target.length > literal) ops.push({ copy: false, from: literal, to: target.length });
  return ops;
}

/** The delta that turns text `base` into text `target`. */
export function diffText(base: string, target: string): Delta {
  const delta: Delta = [target.length, checksum(target)];
  for (const op of findOps(base, target)) {
    if (op.copy) delta.push(op.start, op.count);
    else delta.push(target.slice(op.from, op.to));
  }
  return delta;
}

/** The delta that turns bytes `base` into bytes `target`. */
export function diffBytes(base: Uint8Array, target: Uint8Array): Delta {
  const delta: Delta = [target.length, checksum(target)];
  for (const op of findOps(bytesAsText(base), bytesAsText(target))) {
    if (op.copy) delta.push(op.start, op.count);
    else delta.push(target.slice(op.from, op.to));
  }
  return delta;
}

function header(delta: unknown): { length: number; hash: number; ops: unknown[] } {
  if (!Array.isArray(delta) || delta.length < 2) throw new DeltaError('a delta is an array [length, checksum, ...ops]');
  const [length, hash] = delta as unknown[];
  if (!Number.isSafeInteger(length) || (length as number) < 0 || !Number.isSafeInteger(hash)) throw new DeltaError('bad delta header');
  return { length: length as number, hash: hash as number, ops: delta.slice(2) as unknown[] };
}

function copyRange(ops: unknown[], i: number, baseLength: number): [number, number] {
  const start = ops[i];
  const count = ops[i + 1];
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count)) throw new DeltaError('a copy is two integers');
  const from = start as number;
  const n = count as number;
  if (from < 0 || n <= 0 || from + n > baseLength) throw new DeltaError('a copy is outside the base');
  return [from, n];
}

/** Rebuilds a text from its base and a delta; `DeltaError` when it does not apply. */
export function applyText(base: string, delta: unknown): string {
  const { length, hash, ops } = header(delta);
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; i < ops.length; ) {
    const op = ops[i];
    if (typeof op === 'string') {
      parts.push(op);
      size += op.length;
      i++;
      continue;
    }
    const [from, n] = copyRange(ops, i, base.length);
    parts.push(base.slice(from, from + n));
    size += n;
    i += 2;
    if (size > length) break;
  }
  const target = parts.join('');
  if (target.length !== length || checksum(target) !== hash) throw new DeltaError('the rebuilt value does not match the delta (length or checksum)');
  return target;
}

/** Rebuilds bytes from their base and a delta; `DeltaError` when it does not apply. */
export function applyBytes(base: Uint8Array, delta: unknown): Uint8Array {
  const { length, hash, ops } = header(delta);
  const target = new Uint8Array(length);
  let size = 0;
  for (let i = 0; i < ops.length; ) {
    const op = ops[i];
    if (op instanceof Uint8Array) {
      if (size + op.length > length) throw new DeltaError('the delta is longer than its length');
      target.set(op, size);
      size += op.length;
      i++;
      continue;
    }
    const [from, n] = copyRange(ops, i, base.length);
    if (size + n > length) throw new DeltaError('the delta is longer than its length');
    target.set(base.subarray(from, from + n), size);
    size += n;
    i += 2;
  }
  if (size !== length || checksum(target) !== hash) throw new DeltaError('the rebuilt value does not match the delta (length or checksum)');
  return target;
}
