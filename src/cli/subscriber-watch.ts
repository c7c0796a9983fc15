/**
 * Starts and stops a server-side producer (the game's arena, the ticker's
 * feed) with its audience: every `interval` ms it looks at how many
 * subscribers a channel has in this process, resumes the producer when the
 * first one is there and pauses it once none is left, so that a demo
 * nobody watches costs nothing.
 */

/** What the watch needs of the real-time server: its per-channel subscriber counts. */
export interface ChannelCounts {
  stats(): { channels: ReadonlyMap<string, number> };
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
    const subscribed = (this.server.stats().channels.get(this.channel) ?? 0) > 0;
    const running = this.producer.isRunning();
    if (subscribed && !running) this.producer.resume();
    else if (!subscribed && running) this.producer.pause();
  }
}
