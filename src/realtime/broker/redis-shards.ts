/**
 * Sharded pub/sub on a Redis Cluster: one subscriber connection per master
 * that owns the slot of a wanted shard channel, each shard channel
 * SSUBSCRIBEd on the master that owns its slot.
 *
 * A shard channel's subscription can stop delivering without an error: its
 * master dies (a replica takes over), or its slot moves to another master
 * (resharding: Redis then sends an unsolicited SUNSUBSCRIBE). Publications
 * fanned out meanwhile are lost to this process, so each such event makes
 * the group unhealthy (`state(false)`) until every wanted shard channel is
 * subscribed again on the master that owns its slot now (`state(true)`).
 * The broker turns that into its 'down' / 'up' events, after which the
 * server has its clients recover from history.
 *
 * The owner of a slot comes from the cluster client's slot map, refreshed
 * (CLUSTER SLOTS) on MOVED replies, on a failover and every
 * `checkInterval`; a periodic check also moves subscriptions whose slot
 * changed owner without telling (e.g. a SUNSUBSCRIBE lost with a connection).
 */
import { Redis, type Cluster, type RedisOptions } from 'ioredis';

export interface ShardGroupEvents {
  /** A message on a shard channel (bytes as received). */
  message(shard: Buffer, payload: Buffer): void;
  /** Every wanted shard channel is subscribed on its slot's owner (true), or one may be missing messages (false). */
  state(healthy: boolean, error?: Error): void;
}

export interface ShardGroupOptions {
  /** Options of each subscriber connection (credentials, TLS, timeouts). */
  redis: RedisOptions;
  /** How long connecting to a master may take (ms). */
  connectTimeout: number;
  /** How often the owners of the subscribed slots are checked (ms). */
  checkInterval: number;
}

interface ShardNode {
  readonly key: string;
  readonly connection: Redis;
  readonly ready: Promise<void>;
  /** Shard channels subscribed on this node. */
  readonly shards: Set<string>;
}

const MAX_PLACE_ATTEMPTS = 4;

function isRedirect(error: unknown): boolean {
  return error instanceof Error && /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/.test(error.message);
}

export class ShardSubscriberGroup {
  private readonly wanted = new Set<string>();
  private readonly nodes = new Map<string, ShardNode>();
  /** The node each wanted shard channel is subscribed on. */
  private readonly placed = new Map<string, ShardNode>();
  private healthy = true;
  private repairing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly events: ShardGroupEvents,
    private readonly options: ShardGroupOptions,
  ) {
    this.timer = setInterval(() => this.check(), options.checkInterval);
    this.timer.unref();
  }

  /**
   * Subscribes to `shard` on the master that owns its slot. During a repair
   * it waits for it (at most `connectTimeout`; the repair places it later
   * anyway) and rejects when the repair takes longer.
   */
  async add(shard: string): Promise<void> {
    this.wanted.add(shard);
    try {
      await this.placeWanted(shard);
    } catch (error) {
      // Not wanted after all: the caller was told it failed.
      void this.remove(shard);
      throw error;
    }
  }

  private async placeWanted(shard: string): Promise<void> {
    const repairing = this.repairing;
    if (repairing !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.connectTimeout)));
      const outcome = await Promise.race([repairing.then(() => 'repaired' as const), timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') throw new Error(`the subscriptions to the Redis Cluster are being repaired (no master for some slots after ${this.options.connectTimeout} ms)`);
      if (this.placed.has(shard)) return;
    }
    await this.place(shard);
  }

  /** Unsubscribes from `shard` (best effort: a lost connection unsubscribed it anyway). */
  async remove(shard: string): Promise<void> {
    this.wanted.delete(shard);
    const node = this.placed.get(shard);
    if (node === undefined) return;
    this.placed.delete(shard);
    node.shards.delete(shard);
    await node.connection.sunsubscribe(shard).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const nodes = [...this.nodes.values()];
    this.nodes.clear();
    this.placed.clear();
    await Promise.all(nodes.map((node) => node.connection.quit().catch(() => node.connection.disconnect())));
  }

  // ------------------------------------------------------------ placing

  /** The node key (`host:port`) of the master owning `shard`'s slot, per the cluster client's map. */
  private ownerOf(shard: string): string | undefined {
    return this.cluster.slots[keySlot(shard)]?.[0];
  }

  private async place(shard: string): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < MAX_PLACE_ATTEMPTS && !this.closed; attempt += 1) {
      if (!this.wanted.has(shard)) return;
      const key = this.ownerOf(shard);
      try {
        if (key === undefined) throw new Error(`no master owns the slot of ${shard}`);
        const node = this.node(key);
        await node.ready;
        await node.connection.ssubscribe(shard);
        if (this.nodes.get(key) !== node) throw new Error(`the connection to ${key} was lost`);
        const previous = this.placed.get(shard);
        if (previous !== undefined && previous !== node) {
          previous.shards.delete(shard);
          previous.connection.sunsubscribe(shard).catch(() => {});
        }
        node.shards.add(shard);
        this.placed.set(shard, node);
        return;
      } catch (error) {
        lastError = error;
        // A dead master stays in the slot map until its replica is promoted: ask again soon, not slower and slower.
        if (!isRedirect(error)) await sleep(Math.min(50 * (attempt + 1), 200));
        await this.refreshSlots();
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  /** The subscriber connection to node `key`, opened on first use. */
  private node(key: string): ShardNode {
    const existing = this.nodes.get(key);
    if (existing !== undefined) return existing;
    const colon = key.lastIndexOf(':');
    const connection = new Redis({
      ...this.options.redis,
      host: key.slice(0, colon),
      port: Number(key.slice(colon + 1)),
      db: 0,
      lazyConnect: true,
      enableOfflineQueue: true,
      autoResubscribe: false,
      // No reconnection of its own: the group re-places its shard channels.
      retryStrategy: () => null,
      connectTimeout: this.options.connectTimeout,
    });
    const node: ShardNode = { key, connection, ready: connection.connect(), shards: new Set() };
    node.ready.catch(() => {});
    this.nodes.set(key, node);
    connection.on('error', () => {});
    connection.on('smessageBuffer', (shard: Buffer, payload: Buffer) => {
      if (this.nodes.get(key) === node) this.events.message(shard, payload);
    });
    connection.on('close', () => this.lost(node, new Error(`the connection to cluster node ${key} was lost`)));
    // An unsolicited SUNSUBSCRIBE: a slot of this node moved away.
    connection.on('moved', () => this.degrade(new Error(`a slot moved away from cluster node ${key}`)));
    return node;
  }

  private lost(node: ShardNode, error: Error): void {
    if (this.closed || this.nodes.get(node.key) !== node) return;
    this.nodes.delete(node.key);
    for (const shard of node.shards) {
      if (this.placed.get(shard) === node) this.placed.delete(shard);
    }
    if (node.shards.size > 0) this.degrade(error);
  }

  // ------------------------------------------------------------ repair

  /** Some shard channel may have missed messages: report it and re-place every one that is not where it belongs. */
  private degrade(error: Error): void {
    if (this.closed) return;
    if (this.healthy) {
      this.healthy = false;
      this.events.state(false, error);
    }
    this.startRepair();
  }

  private startRepair(): void {
    if (this.repairing !== undefined) return;
    this.repairing = this.repair().finally(() => (this.repairing = undefined));
  }

  private async repair(): Promise<void> {
    for (let round = 0; !this.closed; round += 1) {
      await sleep(Math.min(50 * 2 ** round, 500));
      await this.refreshSlots();
      const misplaced = [...this.wanted].filter((shard) => this.placed.get(shard)?.key !== this.ownerOf(shard) || !this.placed.has(shard));
      const results = await Promise.allSettled(misplaced.map((shard) => this.place(shard)));
      if (results.every((result) => result.status === 'fulfilled') && this.allPlaced()) {
        if (!this.healthy && !this.closed) {
          this.healthy = true;
          this.events.state(true);
        }
        return;
      }
    }
  }

  private allPlaced(): boolean {
    for (const shard of this.wanted) {
      const node = this.placed.get(shard);
      if (node === undefined || this.nodes.get(node.key) !== node || node.key !== this.ownerOf(shard)) return false;
    }
    return true;
  }

  /** Periodic: a subscribed slot whose owner changed (per the refreshed slot map) is a possible gap. */
  private check(): void {
    if (this.closed || this.repairing !== undefined || this.placed.size === 0) return;
    for (const [shard, node] of this.placed) {
      if (this.ownerOf(shard) !== undefined && this.ownerOf(shard) !== node.key) {
        this.degrade(new Error(`the slot of ${shard} moved from ${node.key} to ${this.ownerOf(shard)}`));
        return;
      }
    }
  }

  private refreshSlots(): Promise<void> {
    return new Promise((resolve) => this.cluster.refreshSlotsCache(() => resolve()));
  }
}

/** The CRC16 (XMODEM) table of Redis Cluster key slots. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/** The Redis Cluster slot of a key or shard channel: CRC16 of its hash tag (`{...}`, when not empty) or of all of it, mod 16384. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc % 16384;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
