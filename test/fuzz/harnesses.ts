// Every fuzz harness, by name.
import { deflateHarness } from './deflate.js';
import { frameHarness } from './frame.js';
import { handshakeHarness } from './handshake.js';
import type { Harness, HarnessName } from './harness.js';
import { realtimeHarness } from './realtime.js';

export const HARNESSES: Readonly<Record<HarnessName, Harness>> = {
  frame: frameHarness,
  handshake: handshakeHarness,
  deflate: deflateHarness,
  realtime: realtimeHarness,
};

export function isHarnessName(name: string): name is HarnessName {
  return Object.hasOwn(HARNESSES, name);
}
