/**
 * Commands written to one Redis connection during one turn of the event loop
 * (the synchronous code and the microtasks it runs) leave in one write: the
 * socket is corked at the first of them and uncorked at the end of the turn.
 * Redis then reads them together and runs them in one pass, so a burst of
 * publications (a connection's pipelined publishes, or several connections'
 * in one turn) also leaves Redis as one write to each subscribed process,
 * which fans them out together: one socket write per client for all of them
 * rather than one per publication.
 */
import type { Writable } from 'node:stream';

const corked = new WeakSet<Writable>();

function uncork(stream: Writable): void {
  corked.delete(stream);
  stream.uncork();
}

/** Holds what is written to `stream` from now until the end of the current turn. */
export function corkForTurn(stream: Writable | undefined): void {
  if (stream === undefined || corked.has(stream) || !stream.writable) return;
  corked.add(stream);
  stream.cork();
  process.nextTick(uncork, stream);
}
