import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Emitter } from '../../../src/realtime/sdk/emitter.js';

interface Events {
  tick: [n: number];
  pair: [a: string, b: boolean];
}

class Source extends Emitter<Events> {
  fire<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    return this.emit(event, ...args);
  }
}

const globals = globalThis as { reportError?: (error: unknown) => void };
const originalReportError = globals.reportError;

describe('sdk emitter', () => {
  afterEach(() => {
    globals.reportError = originalReportError;
  });

  it('calls listeners in order with the arguments', () => {
    const source = new Source();
    const seen: string[] = [];
    source.on('pair', (a, b) => seen.push(`1:${a}:${b}`));
    source.on('pair', (a, b) => seen.push(`2:${a}:${b}`));
    assert.equal(source.fire('pair', 'x', true), true);
    assert.deepEqual(seen, ['1:x:true', '2:x:true']);
    assert.equal(source.fire('tick', 1), false);
  });

  it('off removes one registration; once runs once', () => {
    const source = new Source();
    const seen: number[] = [];
    const listener = (n: number): void => void seen.push(n);
    source.on('tick', listener).on('tick', listener);
    source.off('tick', listener);
    source.once('tick', (n) => seen.push(n * 10));
    source.fire('tick', 1);
    source.fire('tick', 2);
    assert.deepEqual(seen, [1, 10, 2]);
    assert.equal(source.listenerCount('tick'), 1);
    const once = (n: number): void => void seen.push(n * 100);
    source.once('tick', once).off('tick', once);
    source.fire('tick', 3);
    assert.deepEqual(seen, [1, 10, 2, 3]);
    source.removeAllListeners();
    assert.equal(source.listenerCount('tick'), 0);
  });

  it('a listener added or removed during an emit takes effect from the next emit', () => {
    const source = new Source();
    const seen: string[] = [];
    const second = (): void => void seen.push('second');
    source.on('tick', () => {
      seen.push('first');
      source.off('tick', second);
      source.on('tick', () => seen.push('late'));
    });
    source.on('tick', second);
    source.fire('tick', 0);
    assert.deepEqual(seen, ['first', 'second']);
  });

  it('a throwing listener does not stop the others; its error is reported', () => {
    const reported: unknown[] = [];
    globals.reportError = (error) => reported.push(error);
    const source = new Source();
    const seen: number[] = [];
    source.on('tick', () => {
      throw new Error('boom');
    });
    source.on('tick', (n) => seen.push(n));
    source.fire('tick', 7);
    assert.deepEqual(seen, [7]);
    assert.equal((reported[0] as Error).message, 'boom');
  });
});
