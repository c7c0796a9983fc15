/**
 * Mask keys for client-to-server frames (RFC 6455 §5.3): unpredictable,
 * fresh per frame. Drawn from a pool of random bytes refilled in blocks, so
 * a frame costs no system call.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 8 * 1024;
let pool = Buffer.allocUnsafe(0);
let poolOffset = 0;

/** A new 4-byte mask key. The returned view is only valid until the next call. */
export function randomMaskKey(): Uint8Array {
  if (poolOffset + 4 > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    poolOffset = 0;
  }
  const key = pool.subarray(poolOffset, poolOffset + 4);
  poolOffset += 4;
  return key;
}
