/**
 * `RealtimeServer.user(id)` and `.client(id)`: the connections of a user (or
 * one connection), wherever in the cluster they are connected. Each
 * operation is checked here, then carried out on every node through the
 * control plane (cluster-control.ts), and resolves how many connections it
 * affected once every node answered.
 */
import type { ConnectionOperation, ConnectionTarget } from './cluster-control.js';

/** What a group needs of its server. */
export interface ConnectionGroupHost {
  /** The namespace check of a channel name (throws `RpcError` bad_request / not_found). */
  checkChannel(channel: string): void;
  /** Throws `RangeError` for a close code or reason a close frame cannot carry. */
  checkClose(code: number, reason: string): void;
  /** Throws `RpcError` for data a `message` push cannot carry. */
  checkMessage(data: unknown): void;
  everywhere(operation: ConnectionOperation): Promise<number>;
}

/** The connections of one user (or one connection), on every node. */
export class ConnectionGroup {
  constructor(
    private readonly host: ConnectionGroupHost,
    private readonly target: ConnectionTarget,
  ) {}

  /**
   * Sends `disconnect` and closes each connection with `code` (default
   * 4000: the client may reconnect; 4503 tells it not to). Resolves how
   * many connections were closed.
   */
  async disconnect(options: { code?: number; reason?: string } = {}): Promise<number> {
    const code = options.code ?? 4000;
    const reason = options.reason ?? '';
    this.host.checkClose(code, reason);
    return this.host.everywhere({ op: 'disconnect', target: this.target, code, reason });
  }

  /**
   * Subscribes each connection to `channel` from the server (a
   * server-side subscription, docs/protocol.md §5.3; no namespace rules,
   * no `authorize`). Resolves how many connections were subscribed (those
   * subscribed already, or at their subscription limit, are not counted).
   */
  async subscribe(channel: string): Promise<number> {
    this.host.checkChannel(channel);
    return this.host.everywhere({ op: 'subscribe', target: this.target, channel });
  }

  /** Ends each connection's subscription to `channel` (an `unsubscribed` push with code 'server'); resolves how many had one. */
  async unsubscribe(channel: string): Promise<number> {
    this.host.checkChannel(channel);
    return this.host.everywhere({ op: 'unsubscribe', target: this.target, channel });
  }

  /** A `message` push with `data` (JSON; at most `limits.maxPublishSize` bytes) to each connection; resolves how many got it. */
  async send(data: unknown): Promise<number> {
    this.host.checkMessage(data);
    return this.host.everywhere({ op: 'send', target: this.target, data });
  }
}
