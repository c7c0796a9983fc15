// Private Redis Clusters and Sentinel groups for tests: real redis-server
// processes on free ports (a cluster node's bus port, port + 10000, must be
// free too, so ports stay below 55535), each in a temp dir that is removed
// on stop. Debian's redis-server and redis-cli.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { REDIS_BINARY } from './redis-server.js';

export const REDIS_CLI = process.env.REDIS_CLI ?? '/usr/bin/redis-cli';

/** Whether redis-server and redis-cli both run here (a cluster needs redis-cli to be created). */
export function clusterAvailability(): { available: boolean; reason: string } {
  for (const binary of [REDIS_BINARY, REDIS_CLI]) {
    const result = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    if (result.error !== undefined) return { available: false, reason: `${binary}: ${result.error.message}` };
    if (result.status !== 0) return { available: false, reason: `${binary} --version failed` };
  }
  return { available: true, reason: 'redis-server and redis-cli' };
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const taken = new Set<number>();

/** A free port in [20000, 45000) whose bus port (+10000) is free too. */
export async function freeClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
  throw new Error('no free port pair for a cluster node');
}

/** One redis-server process (cluster node, master, replica or sentinel). */
export class RedisProcess {
  child: ChildProcess | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const child = spawn(REDIS_BINARY, this.args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (/Ready to accept connections|Sentinel ID is/.test(output)) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.resume();
      child.once('exit', (code) => reject(new Error(`redis-server ${this.port} exited with ${code}: ${output.slice(-800)}`)));
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL: gone without a word, and whatever it did not replicate is lost. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  /** SIGSTOP / SIGCONT: frozen (no replication, no votes) and thawed. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** A short-lived connection for one command. */
  async command(...args: (string | number)[]): Promise<unknown> {
    const client = new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      return await client.call(String(args[0]), ...args.slice(1));
    } finally {
      client.disconnect();
    }
  }
}

async function until(what: string, timeout: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
}

function infoField(info: unknown, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(String(info))?.[1]?.trim();
}

/** A Redis Cluster of 3 masters and 3 replicas. */
export class RedisCluster {
  private constructor(
    readonly nodes: RedisProcess[],
    private readonly dir: string,
  ) {}

  static async start(options: { nodeTimeout?: number } = {}): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-cluster-'));
    const nodes: RedisProcess[] = [];
    for (let index = 0; index < 6; index += 1) {
      const port = await freeClusterPort();
      nodes.push(
        new RedisProcess(port, join(dir, String(port)), [
          '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no',
          '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', String(options.nodeTimeout ?? 1_500),
          // A replica takes over however long it was cut off (the tests freeze replicas on purpose).
          '--cluster-replica-validity-factor', '0',
          '--save', '', '--appendonly', 'no',
        ]),
      );
    }
    const cluster = new RedisCluster(nodes, dir);
    try {
      await Promise.all(nodes.map((node) => node.start()));
      const created = spawnSync(REDIS_CLI, ['--cluster', 'create', ...nodes.map((node) => node.address), '--cluster-replicas', '1', '--cluster-yes'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
      await cluster.settled();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** `redis://` of one node. */
  url(index = 0): string {
    return `redis://${this.nodes[index]!.address}`;
  }

  /** Waits until every running node says cluster_state:ok, agrees on the masters, and every replica is in sync. */
  async settled(timeout = 30_000): Promise<void> {
    await until('the cluster to settle', timeout, async () => {
      for (const node of this.nodes.filter((candidate) => candidate.running)) {
        if (infoField(await node.command('CLUSTER', 'INFO'), 'cluster_state') !== 'ok') return false;
        const replication = await node.command('INFO', 'replication');
        if (infoField(replication, 'role') === 'slave' && infoField(replication, 'master_link_status') !== 'up') return false;
      }
      const masters = await this.masters();
      return masters.length === 3;
    });
  }

  /** The running masters that own slots (per their own CLUSTER NODES line). */
  async masters(): Promise<RedisProcess[]> {
    const owning: RedisProcess[] = [];
    for (const node of this.nodes.filter((candidate) => candidate.running)) {
      const lines = String(await node.command('CLUSTER', 'NODES')).split('\n');
      const myself = lines.find((line) => line.includes('myself'));
      if (myself !== undefined && myself.includes('master') && myself.trim().split(' ').length > 8) owning.push(node);
    }
    return owning;
  }

  /** The node (running) that serves `slot` as master, per that node itself. */
  async masterOfSlot(slot: number): Promise<RedisProcess> {
    for (const node of this.nodes.filter((candidate) => candidate.running)) {
      const lines = String(await node.command('CLUSTER', 'NODES')).split('\n');
      const myself = lines.find((line) => line.includes('myself'));
      if (myself === undefined || !myself.includes('master')) continue;
      for (const range of myself.trim().split(' ').slice(8)) {
        const [from, to] = range.split('-').map(Number);
        if (from !== undefined && slot >= from && slot <= (to ?? from)) return node;
      }
    }
    throw new Error(`no running master serves slot ${slot}`);
  }

  /** The replica of `master`. */
  async replicaOf(master: RedisProcess): Promise<RedisProcess> {
    for (const node of this.nodes.filter((candidate) => candidate.running && candidate !== master)) {
      const replication = await node.command('INFO', 'replication');
      if (infoField(replication, 'role') === 'slave' && Number(infoField(replication, 'master_port')) === master.port) return node;
    }
    throw new Error(`no replica of ${master.address}`);
  }

  /** Waits until `node` is a master owning slots and the cluster is ok again. */
  async promoted(node: RedisProcess, timeout = 30_000): Promise<void> {
    await until(`${node.address} to take over`, timeout, async () => {
      const replication = await node.command('INFO', 'replication');
      if (infoField(replication, 'role') !== 'master') return false;
      for (const other of this.nodes.filter((candidate) => candidate.running)) {
        if (infoField(await other.command('CLUSTER', 'INFO'), 'cluster_state') !== 'ok') return false;
      }
      return true;
    });
  }

  /**
   * Moves `slot` from its master to `to` the way `redis-cli --cluster reshard`
   * does, for one slot: IMPORTING / MIGRATING, MIGRATE of its keys in batches
   * (each batch atomic for clients), then SETSLOT NODE on every master.
   * Resolves the number of keys moved.
   */
  async migrateSlot(slot: number, to: RedisProcess): Promise<number> {
    const from = await this.masterOfSlot(slot);
    if (from === to) throw new Error(`slot ${slot} is already on ${to.address}`);
    const fromId = String(await from.command('CLUSTER', 'MYID'));
    const toId = String(await to.command('CLUSTER', 'MYID'));
    await to.command('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await from.command('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
    let moved = 0;
    for (;;) {
      const keys = (await from.command('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      await from.command('MIGRATE', '127.0.0.1', to.port, '', 0, 5_000, 'REPLACE', 'KEYS', ...keys);
      moved += keys.length;
    }
    for (const node of await this.masters()) await node.command('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    return moved;
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) node.thaw();
    await Promise.all(this.nodes.map((node) => node.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One master, one replica and three Sentinels watching them as `mymaster`. */
export class RedisSentinelGroup {
  readonly masterName = 'mymaster';

  private constructor(
    readonly master: RedisProcess,
    readonly replica: RedisProcess,
    readonly sentinels: RedisProcess[],
    private readonly dir: string,
  ) {}

  static async start(): Promise<RedisSentinelGroup> {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sentinel-'));
    const data = (port: number): string[] => ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'];
    const masterPort = await freeClusterPort();
    const replicaPort = await freeClusterPort();
    const master = new RedisProcess(masterPort, join(dir, String(masterPort)), data(masterPort));
    const replica = new RedisProcess(replicaPort, join(dir, String(replicaPort)), [...data(replicaPort), '--replicaof', '127.0.0.1', String(masterPort)]);
    const sentinels: RedisProcess[] = [];
    for (let index = 0; index < 3; index += 1) {
      const port = await freeClusterPort();
      const home = join(dir, String(port));
      mkdirSync(home, { recursive: true });
      const config = join(home, 'sentinel.conf');
      writeFileSync(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'protected-mode no',
          `dir ${home}`,
          `sentinel monitor mymaster 127.0.0.1 ${masterPort} 2`,
          'sentinel down-after-milliseconds mymaster 1000',
          'sentinel failover-timeout mymaster 5000',
          'sentinel parallel-syncs mymaster 1',
          '',
        ].join('\n'),
      );
      sentinels.push(new RedisProcess(port, home, [config, '--sentinel']));
    }
    const group = new RedisSentinelGroup(master, replica, sentinels, dir);
    try {
      await master.start();
      await replica.start();
      await Promise.all(sentinels.map((sentinel) => sentinel.start()));
      await group.settled();
    } catch (error) {
      await group.stop();
      throw error;
    }
    return group;
  }

  get url(): string {
    return `redis+sentinel://${this.sentinels.map((sentinel) => sentinel.address).join(',')}/${this.masterName}`;
  }

  /** Waits until the replica is in sync and every Sentinel knows the replica and the two other Sentinels. */
  async settled(timeout = 30_000): Promise<void> {
    await until('the Sentinel group to settle', timeout, async () => {
      const replication = await this.replica.command('INFO', 'replication');
      if (infoField(replication, 'master_link_status') !== 'up') return false;
      for (const sentinel of this.sentinels) {
        const replicas = (await sentinel.command('SENTINEL', 'REPLICAS', this.masterName)) as unknown[];
        const others = (await sentinel.command('SENTINEL', 'SENTINELS', this.masterName)) as unknown[];
        if (replicas.length < 1 || others.length < 2) return false;
      }
      return true;
    });
  }

  /** The port of the master the Sentinels name now. */
  async masterPort(): Promise<number> {
    const [, port] = (await this.sentinels[0]!.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName)) as [string, string];
    return Number(port);
  }

  /** Waits until every Sentinel names `node` as the master and it says it is one. */
  async promoted(node: RedisProcess, timeout = 30_000): Promise<void> {
    await until(`${node.address} to become the master`, timeout, async () => {
      if (infoField(await node.command('INFO', 'replication'), 'role') !== 'master') return false;
      for (const sentinel of this.sentinels) {
        const [, port] = (await sentinel.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName)) as [string, string];
        if (Number(port) !== node.port) return false;
      }
      return true;
    });
  }

  async stop(): Promise<void> {
    for (const node of [this.master, this.replica]) node.thaw();
    await Promise.all([this.master, this.replica, ...this.sentinels].map((node) => node.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
