// A seeded pseudo-random generator for the fuzzers (sfc32, seeded through
// splitmix32) and the byte mutator they share. Every case gets its own
// generator from (seed, case number), so one failing case reproduces alone:
// `node scripts/fuzz.mjs --harness frame --seed S --from N --cases 1`.

/** splitmix32: spreads a 32-bit seed into well-mixed state words. */
function splitmix32(state: number): () => number {
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A small, fast, seeded generator (sfc32). */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    const mix = splitmix32((seed ^ Math.imul(stream, 0x27d4eb2d)) >>> 0);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 8; i++) this.next();
  }

  /** The next 32 random bits as an unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }

  /** An integer in [low, high]. */
  range(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p * 0x100000000;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** A length skewed towards small values, at most `max`. */
  size(max: number): number {
    const roll = this.int(100);
    if (roll < 50) return this.int(Math.min(max, 16) + 1);
    if (roll < 85) return this.int(Math.min(max, 256) + 1);
    return this.int(max + 1);
  }
}

/** Byte values that often sit on a parser's boundaries. */
const INTERESTING = [0x00, 0x01, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x0d, 0x0a, 0x3a, 0x20, 0x2c, 0x3b, 0x3d, 0x22, 0x5c];

/**
 * Mutates a copy of `input` with 1 to `maxSteps` random edits: bit flips,
 * byte overwrites (random or boundary values), insertions, deletions,
 * duplicated runs, splices from `donor`, truncation. The result is at most
 * `maxLength` bytes.
 */
export function mutate(random: Random, input: Buffer, donor: Buffer | null = null, maxSteps = 8, maxLength = 1 << 16): Buffer {
  let data = Buffer.from(input);
  const steps = random.range(1, maxSteps);
  for (let step = 0; step < steps; step++) {
    const at = random.int(data.length + 1);
    switch (random.int(9)) {
      case 0:
        if (data.length > 0) data[Math.min(at, data.length - 1)]! ^= 1 << random.int(8);
        break;
      case 1:
        if (data.length > 0) data[Math.min(at, data.length - 1)] = random.next() & 0xff;
        break;
      case 2:
        if (data.length > 0) data[Math.min(at, data.length - 1)] = random.pick(INTERESTING);
        break;
      case 3:
        data = Buffer.concat([data.subarray(0, at), random.bytes(random.size(32)), data.subarray(at)]);
        break;
      case 4: {
        const end = Math.min(data.length, at + random.size(32));
        data = Buffer.concat([data.subarray(0, at), data.subarray(end)]);
        break;
      }
      case 5: {
        const end = Math.min(data.length, at + random.size(64));
        const run = data.subarray(at, end);
        data = Buffer.concat([data.subarray(0, end), run, run.length > 0 && random.chance(0.3) ? run : Buffer.alloc(0), data.subarray(end)]);
        break;
      }
      case 6:
        if (donor !== null && donor.length > 0) {
          const from = random.int(donor.length);
          const piece = donor.subarray(from, from + random.size(64));
          data = Buffer.concat([data.subarray(0, at), piece, data.subarray(at)]);
        }
        break;
      case 7:
        data = data.subarray(0, at);
        break;
      default:
        if (data.length >= 2) {
          const i = random.int(data.length - 1);
          const v = data[i]!;
          data[i] = data[i + 1]!;
          data[i + 1] = v;
        }
    }
  }
  return data.length > maxLength ? data.subarray(0, maxLength) : data;
}

/** Splits `data` into random chunks (each a copy, since parsers may unmask in place). */
export function chunks(random: Random, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  // One-byte chunks only for short inputs: they cost a call per byte.
  let mode = random.int(4);
  if (mode === 1 && data.length > 512) mode = 2;
  let offset = 0;
  while (offset < data.length) {
    const size = mode === 0 ? data.length : mode === 1 ? 1 : mode === 2 ? random.range(1, 8) : random.range(1, Math.max(1, data.length));
    out.push(Buffer.from(data.subarray(offset, offset + size)));
    offset += size;
  }
  return out;
}

/** A seed from the environment (`SWITCHBOARD_FUZZ_SEED`) or a fresh random one. */
export function seedFromEnvironment(): number {
  const fixed = process.env.SWITCHBOARD_FUZZ_SEED;
  if (fixed !== undefined && fixed !== '') return Number(fixed) >>> 0;
  return (Math.random() * 0x100000000) >>> 0;
}
