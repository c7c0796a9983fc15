/**
 * The metrics of `switchboard serve`: once a second each process samples
 * its real-time server (connections, messages and bytes in and out,
 * subscribers per channel) and its memory, and publishes the sample on
 * `metrics:server` for the dashboard; the same figures are served at
 * `/metrics` as Prometheus text through prom-client.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { TransportCounts } from '../realtime/server/stats.js';
import { METRICS_CHANNEL, type MetricsSample } from './apps/web/api.js';

/** Traffic totals since start and the current load of one real-time server. */
export interface TrafficStats {
  connections: number;
  /** The connections by transport and HTTP version. */
  transports: TransportCounts;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Local subscribers per channel. */
  channels: ReadonlyMap<string, number>;
}

/** What the metrics need of the server. */
export interface MetricsSource {
  stats(): TrafficStats;
  publish(channel: typeof METRICS_CHANNEL, sample: MetricsSample): Promise<unknown>;
}

/** How many channels a sample and `/metrics` list (the busiest ones). */
export const TOP_CHANNELS = 12;
/** Default sampling interval (ms). */
export const SAMPLE_INTERVAL = 1000;

/** The `limit` channels with the most subscribers, busiest first (ties by name). */
export function busiestChannels(channels: ReadonlyMap<string, number>, limit: number): Array<[string, number]> {
  return [...channels].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit);
}

/** Per-second rate between two totals `seconds` apart (0 when no time passed). */
function rate(now: number, before: number, seconds: number): number {
  return seconds > 0 ? Math.max(0, now - before) / seconds : 0;
}

/** Samples the server once a second, publishes the samples and answers Prometheus scrapes. */
export class ServerMetrics {
  /** The registry `/metrics` renders. */
  readonly registry = new Registry();
  private previous: { time: number; stats: TrafficStats };
  private timer: NodeJS.Timeout | null = null;
  private brokerUp = true;

  constructor(
    private readonly source: MetricsSource,
    private readonly worker: number,
    private readonly reportError: (error: Error) => void = () => {},
  ) {
    this.previous = { time: Date.now(), stats: source.stats() };
    this.registry.setDefaultLabels({ worker: String(worker) });
    collectDefaultMetrics({ register: this.registry });
    this.registerTraffic();
    this.registerChannels();
  }

  /** Starts publishing a sample every `interval` ms. */
  start(interval = SAMPLE_INTERVAL): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.publishSample(), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Records the broker's state for `switchboard_broker_up`. */
  brokerState(state: 'up' | 'down'): void {
    this.brokerUp = state === 'up';
  }

  /** The Prometheus text exposition and its content type. */
  async prometheus(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Takes a sample: rates since the previous one, memory, busiest channels. */
  sample(): MetricsSample {
    const time = Date.now();
    const stats = this.source.stats();
    const before = this.previous.stats;
    const seconds = (time - this.previous.time) / 1000;
    this.previous = { time, stats };
    const memory = process.memoryUsage();
    return {
      time,
      worker: this.worker,
      pid: process.pid,
      uptime: Math.round(process.uptime()),
      connections: stats.connections,
      messagesInPerSecond: rate(stats.messagesIn, before.messagesIn, seconds),
      messagesOutPerSecond: rate(stats.messagesOut, before.messagesOut, seconds),
      bytesInPerSecond: rate(stats.bytesIn, before.bytesIn, seconds),
      bytesOutPerSecond: rate(stats.bytesOut, before.bytesOut, seconds),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      channels: busiestChannels(stats.channels, TOP_CHANNELS),
    };
  }

  private publishSample(): void {
    this.source.publish(METRICS_CHANNEL, this.sample()).catch((error: unknown) => {
      // While the broker is down the sample is lost; the dashboard shows the gap.
      if (this.brokerUp) this.reportError(error instanceof Error ? error : new Error(String(error)));
    });
  }

  private registerTraffic(): void {
    const source = this.source;
    const registers = [this.registry];
    const total = (name: string, help: string, read: (stats: TrafficStats) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read(source.stats()));
        },
      });
    };
    total('switchboard_messages_received_total', 'WebSocket messages received from real-time clients', (stats) => stats.messagesIn);
    total('switchboard_messages_sent_total', 'WebSocket messages sent to real-time clients', (stats) => stats.messagesOut);
    total('switchboard_received_bytes_total', 'Payload bytes of the messages received', (stats) => stats.bytesIn);
    total('switchboard_sent_bytes_total', 'Payload bytes of the messages sent', (stats) => stats.bytesOut);
    new Gauge({
      name: 'switchboard_connections',
      help: 'Connected real-time clients',
      registers,
      collect() {
        this.set(source.stats().connections);
      },
    });
    new Gauge({
      name: 'switchboard_transport_connections',
      help: 'Connected real-time clients by transport (websocket, http fallback) and HTTP version of the request that opened them (1 or 2: RFC 8441 over h2)',
      labelNames: ['transport', 'http'],
      registers,
      collect() {
        const { transports } = source.stats();
        for (const transport of ['websocket', 'http'] as const) {
          this.set({ transport, http: '1' }, transports[transport].http1);
          this.set({ transport, http: '2' }, transports[transport].http2);
        }
      },
    });
    const metrics = this;
    new Gauge({
      name: 'switchboard_broker_up',
      help: '1 while the broker (memory or Redis) is reachable, else 0',
      registers,
      collect() {
        this.set(metrics.brokerUp ? 1 : 0);
      },
    });
  }

  private registerChannels(): void {
    const source = this.source;
    const registers = [this.registry];
    new Gauge({
      name: 'switchboard_channels',
      help: 'Channels with at least one local subscriber',
      registers,
      collect() {
        this.set(source.stats().channels.size);
      },
    });
    new Gauge({
      name: 'switchboard_channel_subscribers',
      help: `Local subscribers of the ${TOP_CHANNELS} busiest channels`,
      labelNames: ['channel'],
      registers,
      collect() {
        this.reset();
        for (const [channel, subscribers] of busiestChannels(source.stats().channels, TOP_CHANNELS)) this.set({ channel }, subscribers);
      },
    });
  }
}
