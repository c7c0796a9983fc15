/**
 * The per-address connection limit (`maxConnectionsPerIp`): one client
 * address may hold at most so many WebSocket connections, counting those
 * still in their handshake. A connection counts from its upgrade request
 * until its socket closes; over the limit the upgrade gets 429.
 *
 * Clients behind one proxy or NAT share an address, so addresses where
 * proxies and load balancers usually sit — loopback and private networks —
 * are not counted by default (`connectionLimitExempt`).
 */
import { BlockList, isIPv6 } from 'node:net';
import type { Duplex } from 'node:stream';

/** Connections (open or in their handshake) per client address, by default. */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 256;

/** Decides whether an address escapes the per-address limit. */
export type AddressExemption = (address: string) => boolean;

const LOCAL_NETWORKS = new BlockList();
LOCAL_NETWORKS.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL_NETWORKS.addSubnet('10.0.0.0', 8, 'ipv4');
LOCAL_NETWORKS.addSubnet('172.16.0.0', 12, 'ipv4');
LOCAL_NETWORKS.addSubnet('192.168.0.0', 16, 'ipv4');
LOCAL_NETWORKS.addSubnet('169.254.0.0', 16, 'ipv4');
LOCAL_NETWORKS.addAddress('::1', 'ipv6');
LOCAL_NETWORKS.addSubnet('fc00::', 7, 'ipv6');
LOCAL_NETWORKS.addSubnet('fe80::', 10, 'ipv6');

/**
 * True for loopback, private (RFC 1918, RFC 4193) and link-local addresses,
 * IPv4-mapped ones included: the default exemption from the per-address limit.
 */
export function isLocalNetworkAddress(address: string): boolean {
  const local = isLocalIPv4(address.startsWith('::ffff:') ? address.slice(7) : address);
  if (local !== null) return local;
  return LOCAL_NETWORKS.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
}

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/;

/**
 * The IPv4 part of `isLocalNetworkAddress` for a dotted quad as sockets
 * report it, without the allocations of a `BlockList` lookup (it runs for
 * every upgrade); null for anything else.
 */
function isLocalIPv4(address: string): boolean | null {
  const match = DOTTED_QUAD.exec(address);
  if (match === null) return null;
  const a = Number(match[1]);
  const b = Number(match[2]);
  if (a > 255 || b > 255) return null;
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
}

/** The address a socket connects from, if it has one (a TCP or TLS socket). */
export function remoteAddressOf(socket: Duplex): string | undefined {
  const address = (socket as Duplex & { remoteAddress?: unknown }).remoteAddress;
  return typeof address === 'string' ? address : undefined;
}

/** A socket counted by limiters: each keeps the address under its own symbol (a property, not a closure per connection). */
type CountedSocket = Duplex & { [key: symbol]: string | undefined };
const NOTHING_TO_RELEASE = (): void => {};

export class AddressLimiter {
  readonly max: number;
  private readonly exempt: AddressExemption;
  private readonly counts = new Map<string, number>();
  /**
   * The property of a counted socket that holds its address for this limiter.
   * One symbol per limiter: a socket may be counted by several (the HTTP
   * server's socket limit and the WebSocket server's connection limit).
   */
  private readonly key = Symbol('switchboard.countedAddress');
  /** The 'close' listener of every counted socket of this limiter (Node calls it with the socket as `this`). */
  private readonly releaseSocket: (this: CountedSocket) => void;

  constructor(max: number, exempt: AddressExemption) {
    this.max = max;
    this.exempt = exempt;
    const limiter = this;
    const key = this.key;
    this.releaseSocket = function (this: CountedSocket): void {
      const address = this[key];
      if (address === undefined) return;
      this[key] = undefined;
      limiter.release(address);
    };
  }

  /** Connections counted for `address` now. */
  countOf(address: string): number {
    return this.counts.get(address) ?? 0;
  }

  /**
   * Counts the socket's connection against its address until the socket
   * closes. False (and nothing counted) when the address already holds `max`.
   * Sockets without an address, closed ones and exempt addresses pass,
   * uncounted (and cost nothing: no listener, no closure).
   */
  admit(socket: Duplex): boolean {
    const address = remoteAddressOf(socket);
    if (address === undefined || socket.closed || this.exempt(address)) return true;
    const counted = socket as CountedSocket;
    if (counted[this.key] !== undefined) return true;
    if (!this.count(address)) return false;
    counted[this.key] = address;
    socket.on('close', this.releaseSocket);
    return true;
  }

  /**
   * Counts one connection of `address` (of any transport) until the returned
   * release runs (once; later calls do nothing). Null (nothing counted) when
   * the address already holds `max`; exempt addresses pass, uncounted.
   */
  reserve(address: string): (() => void) | null {
    if (this.exempt(address)) return NOTHING_TO_RELEASE;
    if (!this.count(address)) return null;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(address);
    };
  }

  /** Counts one more connection of `address`; false when it already holds `max`. */
  private count(address: string): boolean {
    const count = this.countOf(address);
    if (count >= this.max) return false;
    this.counts.set(address, count + 1);
    return true;
  }

  private release(address: string): void {
    const count = this.countOf(address) - 1;
    if (count > 0) this.counts.set(address, count);
    else this.counts.delete(address);
  }
}
