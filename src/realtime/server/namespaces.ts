/**
 * Channel names and namespaces (docs/protocol.md §3). A channel name is 1 to
 * 255 visible ASCII characters; the part before the first `:` is its
 * namespace, `''` when there is no `:`. Each namespace has its own rules:
 * history, presence, who may publish.
 */
import type { HistoryOptions } from '../broker/broker.js';

/** Longest channel name, in characters. */
export const MAX_CHANNEL_LENGTH = 255;

/** How the server treats the channels of one namespace. */
export interface NamespaceOptions {
  /** Keep this many publications (and at most `ttl` ms) for history and recovery. Default: none. */
  history?: { size: number; ttl?: number };
  /** Track who is subscribed (`presence`, `presence_stats`). Default false. */
  presence?: boolean;
  /** Push `join` / `leave` to subscribers. Default: as `presence`. */
  joinLeave?: boolean;
  /** Who may publish from a client: subscribers of the channel, any client, or nobody. Default 'subscribers'. */
  publish?: 'subscribers' | 'clients' | false;
  /** May anonymous users subscribe (and publish, read presence and history)? Default true. */
  anonymous?: boolean;
  /** Add the publisher's `info` to publications from clients. Default true. */
  publisherInfo?: boolean;
  /**
   * Personal channels: a channel of this namespace names its users after a
   * `#` (`notifications:#alice`, `dialog:#alice,bob`), and only those users
   * may subscribe, publish, or read its presence and history from a client
   * (others get `forbidden`) — before the `authorize` hook, which still
   * runs. Server code and the server API are not limited. Default false.
   */
  personal?: boolean;
  /**
   * Conflation (docs/realtime.md): a subscriber whose outbound buffer is
   * over `threshold` bytes stops getting every publication and gets, once it
   * has drained, the latest publication of each key — `data[key]` of the
   * publication, a string or number — with the count of those skipped. At
   * most one held publication per key and subscriber, at most `maxKeys` keys
   * and `limits.maxQueuedBytes` of data (default 10,000; `threshold` default 64 KiB, capped at half of
   * `limits.maxQueuedBytes`). Publications without the key are not
   * conflated. Default: none.
   */
  conflation?: ConflationOptions;
  /**
   * Delta compression (docs/realtime.md): subscribers that ask for it
   * (`delta: true`) get each publication as a delta against the previous one
   * of the same conflation key (of the channel, without conflation) when they
   * hold it. Default false.
   */
  delta?: boolean;
}

/** The conflation options of a namespace. */
export interface ConflationOptions {
  /** The field of a publication's data (an object) that names what it is the latest value of. */
  key: string;
  /** Most keys held per subscriber and channel. Default 10,000. */
  maxKeys?: number;
  /** Buffered outbound bytes over which a subscriber is conflated. Default 64 KiB. */
  threshold?: number;
}

/** Conflation options with their defaults applied (`threshold` before the server caps it). */
export interface ResolvedConflation {
  readonly key: string;
  readonly maxKeys: number;
  readonly threshold: number;
}

export const DEFAULT_CONFLATION_MAX_KEYS = 10_000;
export const DEFAULT_CONFLATION_THRESHOLD = 64 * 1024;

/** A namespace with every default applied. */
export interface Namespace {
  readonly name: string;
  /** Retention, or null when the namespace keeps no history. */
  readonly history: HistoryOptions | null;
  readonly presence: boolean;
  readonly joinLeave: boolean;
  readonly publish: 'subscribers' | 'clients' | false;
  readonly anonymous: boolean;
  readonly publisherInfo: boolean;
  readonly personal: boolean;
  readonly conflation: ResolvedConflation | null;
  readonly delta: boolean;
}

/** The namespaces when none are configured: the default namespace with default rules. */
export const DEFAULT_NAMESPACES: Readonly<Record<string, NamespaceOptions>> = Object.freeze({ '': {} });

/** True for 1 to 255 characters in 0x21-0x7E. */
export function isValidChannelName(name: string): boolean {
  const length = name.length;
  if (length === 0 || length > MAX_CHANNEL_LENGTH) return false;
  for (let i = 0; i < length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/** The namespace part of a channel name: before the first `:`, or `''`. */
export function namespaceOf(channel: string): string {
  const colon = channel.indexOf(':');
  return colon === -1 ? '' : channel.slice(0, colon);
}

/** Separates a personal channel's name from the users it names. */
export const PERSONAL_BOUNDARY = '#';

/**
 * The users a personal channel names: the comma-separated ids after its
 * first `#` (`notifications:#alice` → alice); none when it has no `#`.
 */
export function personalUsers(channel: string): string[] {
  const at = channel.indexOf(PERSONAL_BOUNDARY);
  if (at === -1) return [];
  return channel.slice(at + 1).split(',').filter((user) => user !== '');
}

/** Applies the defaults to one namespace's options; throws `TypeError` for invalid ones. */
export function resolveNamespace(name: string, options: NamespaceOptions): Namespace {
  const history = resolveHistory(name, options.history);
  const presence = options.presence === true;
  const publish = options.publish ?? 'subscribers';
  if (publish !== 'subscribers' && publish !== 'clients' && publish !== false) {
    throw new TypeError(`namespace "${name}": publish must be 'subscribers', 'clients' or false`);
  }
  return {
    name,
    history,
    presence,
    joinLeave: presence && (options.joinLeave ?? presence),
    publish,
    anonymous: options.anonymous ?? true,
    publisherInfo: options.publisherInfo ?? true,
    personal: options.personal === true,
    conflation: resolveConflation(name, options.conflation),
    delta: options.delta === true,
  };
}

function resolveConflation(name: string, conflation: ConflationOptions | undefined): ResolvedConflation | null {
  if (conflation === undefined) return null;
  if (typeof conflation.key !== 'string' || conflation.key === '') throw new TypeError(`namespace "${name}": conflation.key must be a non-empty string`);
  const maxKeys = conflation.maxKeys ?? DEFAULT_CONFLATION_MAX_KEYS;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new TypeError(`namespace "${name}": conflation.maxKeys must be an integer >= 1`);
  const threshold = conflation.threshold ?? DEFAULT_CONFLATION_THRESHOLD;
  if (!Number.isInteger(threshold) || threshold < 1) throw new TypeError(`namespace "${name}": conflation.threshold must be an integer >= 1`);
  return { key: conflation.key, maxKeys, threshold };
}

function resolveHistory(name: string, history: NamespaceOptions['history']): HistoryOptions | null {
  if (history === undefined || history.size === 0) return null;
  if (!Number.isInteger(history.size) || history.size < 0) {
    throw new TypeError(`namespace "${name}": history.size must be an integer >= 0`);
  }
  const ttl = history.ttl ?? 0;
  if (typeof ttl !== 'number' || !(ttl >= 0)) throw new TypeError(`namespace "${name}": history.ttl must be a number >= 0`);
  return ttl > 0 ? { size: history.size, ttl } : { size: history.size };
}

/** The configured namespaces, looked up by channel name. */
export class Namespaces {
  private readonly byName = new Map<string, Namespace>();

  constructor(options: Readonly<Record<string, NamespaceOptions>> = DEFAULT_NAMESPACES) {
    for (const [name, namespace] of Object.entries(options)) {
      if (name.includes(':') || (name !== '' && !isValidChannelName(name))) {
        throw new TypeError(`invalid namespace name "${name}"`);
      }
      this.byName.set(name, resolveNamespace(name, namespace));
    }
  }

  /** The namespace of `channel`, or undefined when it is not configured. */
  of(channel: string): Namespace | undefined {
    return this.byName.get(namespaceOf(channel));
  }
}
