/**
 * How `RedisBroker` reaches Redis: one server, a Redis Cluster, or the
 * master that a group of Sentinels names.
 *
 * URL forms (docs/scaling.md):
 *
 * - `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS): one
 *   node. When that node belongs to a Redis Cluster (`INFO cluster` says
 *   `cluster_enabled:1`), the broker becomes a cluster client with it as the
 *   seed.
 * - `redis://host:port,host:port,...`: several seed nodes of one Redis
 *   Cluster (the first that answers is asked for the cluster's layout).
 * - `redis+sentinel://[user:password@]host:port[,host:port...]/mastername[/db]`
 *   (or `rediss+sentinel://`): the master that these Sentinels name, followed
 *   through failovers. The credentials are the master's.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** A parsed broker URL. */
export type RedisTarget =
  | { kind: 'node'; url: string; nodes: RedisNodeAddress[]; options: RedisOptions }
  | { kind: 'sentinel'; url: string; sentinels: RedisNodeAddress[]; masterName: string; options: RedisOptions };

/** A broker URL that cannot be used; nothing was connected. */
export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

const DEFAULT_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;

/** `host:port` (or `[v6]:port`, or a bare host) as an address. */
function parseAddress(text: string, defaultPort: number, url: string): RedisNodeAddress {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text);
  if (match === null) throw new RedisUrlError(`${url}: "${text}" is not host:port`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RedisUrlError(`${url}: bad port in "${text}"`);
  return { host, port };
}

/** Reads the credentials of `user:password@`. */
function credentials(userInfo: string | undefined): RedisOptions {
  if (userInfo === undefined || userInfo === '') return {};
  const colon = userInfo.indexOf(':');
  if (colon < 0) return { username: decodeURIComponent(userInfo) };
  const username = decodeURIComponent(userInfo.slice(0, colon));
  const password = decodeURIComponent(userInfo.slice(colon + 1));
  return username === '' ? { password } : { username, password };
}

function database(text: string | undefined, url: string): RedisOptions {
  if (text === undefined || text === '') return {};
  const db = Number(text);
  if (!Number.isInteger(db) || db < 0) throw new RedisUrlError(`${url}: "${text}" is not a database number`);
  return { db };
}

/** Parses a broker URL (the forms above). */
export function parseRedisUrl(url: string): RedisTarget {
  const match = /^(rediss?)(\+sentinel)?:\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?$/.exec(url);
  if (match === null) {
    throw new RedisUrlError(`"${url}" is not a Redis URL (redis://host:port[,host:port...][/db] or redis+sentinel://host:port[,host:port...]/mastername)`);
  }
  const [, scheme, sentinel, userInfo, hostList, path] = match;
  const options: RedisOptions = { ...credentials(userInfo), ...(scheme === 'rediss' ? { tls: {} } : {}) };
  if (sentinel !== undefined) {
    const sentinels = hostList!.split(',').map((part) => parseAddress(part, DEFAULT_SENTINEL_PORT, url));
    const [masterName, db, ...rest] = (path ?? '').split('/');
    if (masterName === undefined || masterName === '' || rest.length > 0) {
      throw new RedisUrlError(`${url}: a Sentinel URL names the master: redis+sentinel://host:port[,host:port...]/mastername[/db]`);
    }
    return { kind: 'sentinel', url, sentinels, masterName: decodeURIComponent(masterName), options: { ...options, ...database(db, url) } };
  }
  const nodes = hostList!.split(',').map((part) => parseAddress(part, DEFAULT_PORT, url));
  return { kind: 'node', url, nodes, options: { ...options, ...database(path, url) } };
}

/** The URL with its password hidden, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** A connection (or cluster client) that runs the broker's commands. */
export type RedisCommander = Redis | Cluster;

/** The ioredis options of one plain connection for `target`. */
export function nodeOptions(target: RedisTarget, base: RedisOptions): RedisOptions {
  if (target.kind === 'sentinel') {
    return {
      ...target.options,
      sentinels: target.sentinels,
      name: target.masterName,
      // A Sentinel failover is noticed at once (+switch-master), not only when the old master stops answering.
      failoverDetector: true,
      sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1_000),
      // A master demoted by a failover while it stayed up answers writes with READONLY: reconnect (to the new master).
      reconnectOnError: (error: Error) => (/^READONLY/.test(error.message) ? 1 : false),
      ...base,
    };
  }
  const [first] = target.nodes;
  return { ...target.options, host: first!.host, port: first!.port, ...base };
}

/**
 * Whether the first node of `target` that answers belongs to a Redis Cluster.
 * Rejects when none answers within `timeout`.
 */
export async function probeCluster(target: Extract<RedisTarget, { kind: 'node' }>, base: RedisOptions, timeout: number): Promise<boolean> {
  let lastError: unknown = new Error('no node given');
  for (const node of target.nodes) {
    const probe = new Redis({
      ...target.options,
      ...base,
      host: node.host,
      port: node.port,
      db: 0,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: timeout,
    });
    probe.on('error', () => {});
    try {
      await probe.connect();
      const info = await probe.info('cluster');
      return /cluster_enabled:1/.test(info);
    } catch (error) {
      lastError = error;
    } finally {
      probe.disconnect();
    }
  }
  throw lastError;
}

/** The ioredis options of a cluster client whose node connections use `base`. */
export function clusterOptions(target: Extract<RedisTarget, { kind: 'node' }>, base: RedisOptions): ClusterOptions {
  const { db: _db, retryStrategy: _retry, enableOfflineQueue: _queue, ...nodeOptions } = { ...target.options, ...base };
  return {
    lazyConnect: true,
    // Commands fail at once while no node owns their slot: the broker reports them, it does not queue them.
    enableOfflineQueue: false,
    enableReadyCheck: true,
    scaleReads: 'master',
    maxRedirections: 16,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2_000,
    slotsRefreshInterval: 2_000,
    clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 4), 2_000),
    redisOptions: nodeOptions,
  };
}
