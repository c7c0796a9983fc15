/**
 * Reference-counted channel subscriptions of one client: every component
 * that uses a channel leases it, the first lease subscribes and the last
 * release unsubscribes — after a short linger, so that StrictMode's
 * unmount-and-mount of effects (and a fast refresh) re-lease the same
 * subscription instead of unsubscribing and subscribing again.
 */
import type { ApiShape, RealtimeClient, Subscription } from '../realtime/sdk/index.js';

/** How long a channel nobody uses stays subscribed (ms): enough for an effect's cleanup and re-run. */
export const DEFAULT_LEASE_LINGER = 0;

interface Lease {
  count: number;
  subscription: Subscription<unknown>;
  release: ReturnType<typeof setTimeout> | undefined;
}

export class ChannelLeases {
  readonly #client: RealtimeClient<ApiShape>;
  /** ms a channel nobody uses stays subscribed (changeable: it applies to the next release). */
  linger: number;
  readonly #leases = new Map<string, Lease>();

  constructor(client: RealtimeClient<ApiShape>, linger = DEFAULT_LEASE_LINGER) {
    this.#client = client;
    this.linger = linger;
  }

  /** The channel's subscription, subscribing when nobody holds it (or it ended). */
  acquire(channel: string): Subscription<unknown> {
    const lease = this.#leases.get(channel);
    if (lease !== undefined && lease.subscription.state !== 'unsubscribed') {
      lease.count += 1;
      clearTimeout(lease.release);
      lease.release = undefined;
      return lease.subscription;
    }
    if (lease !== undefined) clearTimeout(lease.release);
    const subscription = this.#client.subscribe(channel) as Subscription<unknown>;
    this.#leases.set(channel, { count: 1, subscription, release: undefined });
    return subscription;
  }

  /** Gives one lease back; the last one unsubscribes after the linger unless the channel is leased again. */
  release(channel: string): void {
    const lease = this.#leases.get(channel);
    if (lease === undefined || lease.count === 0) return;
    lease.count -= 1;
    if (lease.count > 0) return;
    lease.release = setTimeout(() => {
      if (lease.count > 0 || this.#leases.get(channel) !== lease) return;
      this.#leases.delete(channel);
      if (lease.subscription.state !== 'unsubscribed') lease.subscription.unsubscribe();
    }, this.linger);
  }

  /** Channels leased now, with their lease counts. */
  counts(): Map<string, number> {
    return new Map([...this.#leases].filter(([, lease]) => lease.count > 0).map(([channel, lease]) => [channel, lease.count]));
  }
}
