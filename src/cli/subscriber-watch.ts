/**
 * Starts and stops a server-side producer (the game's arena, the ticker's
 * feed) with its audience: every `interval` ms it looks at how many
 * subscribers a channel has in this process, resumes the producer when the
 * first one is there and pauses it once none is left, so that a demo
 * nobody watches costs nothing.
 *
 * `ClusterSubscriberWatch` does the same for a producer that serves every
 * process of a cluster (the ticker's feed under `--workers N`): it counts
 * the channel's subscribers on every node, through the broker.
 */
import { DEFAULT_CLUSTER_TIMEOUT } from '../realtime/server/cluster-control.js';

/** What the watch needs of the real-time server: its per-channel subscriber counts. */
export interface ChannelCounts {
  stats(): { channels: ReadonlyMap<string, number> };
}

/** What the cluster-wide watch needs: the local counts, and the counts of every node (`RealtimeServer.channels`). */
export interface ClusterChannelCounts extends ChannelCounts {
  channels(options: { pattern?: string }): Promise<ReadonlyMap<string, number>>;
}

/** The producer the watch drives. */
export interface WatchedProducer {
  /** True while it produces. */
  isRunning(): boolean;
  resume(): void;
  pause(): void;
}

/** How often the subscriber count is looked at, in ms, by default. */
export const WATCH_INTERVAL = 500;

/**
 * How long the cluster-wide watch waits for the nodes' count, in ms, by
 * default: less than the real-time server's default `clusterTimeout`, after
 * which `channels()` answers with the nodes that answered so far — a count
 * that may miss some, which the watch must not take for the whole.
 */
export const CLUSTER_QUERY_TIMEOUT = (DEFAULT_CLUSTER_TIMEOUT * 2) / 3;

/** Resumes or pauses `producer` to match whether its channel has subscribers. */
function follow(producer: WatchedProducer, subscribed: boolean): void {
  const running = producer.isRunning();
  if (subscribed && !running) producer.resume();
  else if (!subscribed && running) producer.pause();
}

export class SubscriberWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: ChannelCounts,
    private readonly channel: string,
    private readonly producer: WatchedProducer,
    private readonly interval = WATCH_INTERVAL,
  ) {}

  /** Starts watching (an unref'd timer: it does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.check(), this.interval);
    this.timer.unref();
  }

  /** Stops watching and pauses the producer. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.producer.isRunning()) this.producer.pause();
  }

  /** Resumes or pauses the producer to match the channel's subscriber count now. */
  check(): void {
    follow(this.producer, (this.server.stats().channels.get(this.channel) ?? 0) > 0);
  }
}

export interface ClusterWatchOptions {
  /** How often it looks, in ms. Default `WATCH_INTERVAL`. */
  interval?: number;
  /**
   * How long it waits for the nodes' count, in ms; keep it below the
   * server's `clusterTimeout`. Default `CLUSTER_QUERY_TIMEOUT`.
   */
  timeout?: number;
  /** Told of a count that failed or came too late (once per run of failures: the next one after a count that came). */
  onError?: (error: Error) => void;
}

/**
 * A watch over the subscribers of every node: the producer runs while the
 * channel has one on any node. A subscriber in this process is enough (no
 * question asked); else it asks every node (`channels()`), one question at a
 * time: a look while one is under way is skipped. A count that failed (the
 * broker is down) or did not come within `timeout` changes nothing — the
 * producer goes on as it was — so that a lost answer never reads as "no
 * subscribers" and stops the producer under its audience.
 */
export class ClusterSubscriberWatch {
  private timer: NodeJS.Timeout | undefined;
  /** True while a count is under way (until it settles, even once given up on). */
  private asking = false;
  /** Bumped by `stop()`: a count asked before it is not acted on. */
  private generation = 0;
  private failing = false;
  private readonly interval: number;
  private readonly timeout: number;

  constructor(
    private readonly server: ClusterChannelCounts,
    private readonly channel: string,
    private readonly producer: WatchedProducer,
    private readonly options: ClusterWatchOptions = {},
  ) {
    this.interval = options.interval ?? WATCH_INTERVAL;
    this.timeout = options.timeout ?? CLUSTER_QUERY_TIMEOUT;
  }

  /** True while a count is under way. */
  get busy(): boolean {
    return this.asking;
  }

  /** Starts watching (an unref'd timer: it does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.check(), this.interval);
    this.timer.unref();
  }

  /** Stops watching and pauses the producer; a count under way is not acted on. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.generation++;
    if (this.producer.isRunning()) this.producer.pause();
  }

  /** Resumes or pauses the producer to match the channel's subscribers on every node; resolves once done (at once when a count is under way). */
  async check(): Promise<void> {
    if (this.asking) return;
    if ((this.server.stats().channels.get(this.channel) ?? 0) > 0) {
      follow(this.producer, true);
      return;
    }
    const generation = this.generation;
    this.asking = true;
    let counted: Promise<number>;
    try {
      counted = this.server.channels({ pattern: this.channel }).then((channels) => channels.get(this.channel) ?? 0);
    } catch (error) {
      counted = Promise.reject(error);
    }
    const settled = (): void => {
      this.asking = false;
    };
    counted.then(settled, settled);
    let timer: NodeJS.Timeout | undefined;
    // Not unref'd: it ends with the count (a server that closes ends the counts under way).
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.timeout)));
    try {
      const count = await Promise.race([counted, late]);
      if (count === 'late') throw new Error(`no count of ${this.channel}'s subscribers within ${this.timeout} ms`);
      this.failing = false;
      if (generation === this.generation) follow(this.producer, count > 0);
    } catch (error) {
      if (!this.failing) this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
      this.failing = true;
    } finally {
      clearTimeout(timer);
    }
  }
}
