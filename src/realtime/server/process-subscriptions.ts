/**
 * The channels this process has subscribed to at the broker, counted by
 * local subscribers: `Broker.subscribe` when the first one arrives,
 * `Broker.unsubscribe` when the last one leaves. The broker calls of one
 * channel run one after the other, so a quick leave-and-come-back never
 * leaves the process unsubscribed.
 */
import type { Broker } from '../broker/broker.js';

interface ChannelState {
  /** Local subscribers counted. */
  count: number;
  /** The latest `subscribe` (its outcome is what a new subscriber waits for). */
  subscribed: Promise<void>;
  /** True once that subscribe failed: the next `acquire` tries again. */
  failed: boolean;
  /** The end of this channel's chain of broker calls (never rejects). */
  tail: Promise<void>;
}

function ignore(): void {}

export class ProcessSubscriptions {
  private readonly channels = new Map<string, ChannelState>();

  constructor(
    private readonly broker: Broker,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Counts one local subscriber; resolves once the broker reports the channel to this process. */
  acquire(channel: string): Promise<void> {
    let state = this.channels.get(channel);
    if (state === undefined) {
      state = { count: 0, subscribed: Promise.resolve(), failed: false, tail: Promise.resolve() };
      this.channels.set(channel, state);
    }
    state.count++;
    if (state.count === 1 || state.failed) this.subscribe(channel, state);
    return state.subscribed;
  }

  /** Uncounts one local subscriber; the last one unsubscribes the process. */
  release(channel: string): void {
    const state = this.channels.get(channel);
    if (state === undefined || state.count === 0) return;
    state.count--;
    if (state.count > 0) return;
    const tail = state.tail.then(() => this.broker.unsubscribe(channel)).catch(this.onError);
    state.tail = tail;
    void tail.then(() => {
      if (state.count === 0 && state.tail === tail) this.channels.delete(channel);
    });
  }

  private subscribe(channel: string, state: ChannelState): void {
    state.failed = false;
    const subscribed = state.tail.then(() => this.broker.subscribe(channel));
    state.subscribed = subscribed;
    state.tail = subscribed.then(ignore, () => {
      if (state.subscribed === subscribed) state.failed = true;
    });
  }
}
