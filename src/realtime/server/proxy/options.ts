/**
 * The options of the proxy hooks (`createProxyHooks`): which backend URL each
 * event is POSTed to, the client headers passed along, and the bounds of a
 * backend call (time, answer size, sockets). Checked once, with their
 * defaults applied.
 */

/** The events a backend can own. */
export const PROXY_EVENTS = ['connect', 'refresh', 'subscribe', 'publish', 'rpc'] as const;
export type ProxyEvent = (typeof PROXY_EVENTS)[number];

/** How long a backend has to answer (ms). */
export const DEFAULT_PROXY_TIMEOUT = 5_000;
/** Largest backend answer read (bytes); a longer one is refused as invalid. */
export const DEFAULT_PROXY_MAX_ANSWER_BYTES = 256 * 1024;
/** Sockets to the backend at once (per protocol); further calls wait for one, within their timeout. */
export const DEFAULT_PROXY_MAX_SOCKETS = 128;

/**
 * Headers that never pass through: they describe the upgrade request's own
 * connection and body, not the client, and would corrupt the backend call.
 */
const FORBIDDEN_HEADERS = new Set([
  'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect',
  'proxy-authorization', 'proxy-connection',
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

export interface ProxyOptions {
  /** Resolves the event URLs that are relative (e.g. `http://backend:3000/switchboard/` with `connect: 'connect'`). */
  baseUrl?: string;
  /** Where `connect` is POSTed: the backend decides who the client is. */
  connect?: string;
  /** Where a client's `refresh` is POSTed. Needs `connect`; default: the `connect` URL. */
  refresh?: string;
  /** Where `subscribe` is POSTed: the backend allows or refuses it. */
  subscribe?: string;
  /** Where `publish` is POSTed: the backend allows, refuses, or replaces the data. */
  publish?: string;
  /** Where a `call` of a method with no local handler is POSTed: the backend answers its result. */
  rpc?: string;
  /** Time limit of one backend call (ms), queueing for a socket included. Default 5000. */
  timeout?: number;
  /** Headers of the client's upgrade request passed on `connect` and `refresh` calls (an allow-list, e.g. ['cookie', 'authorization']). Default none. */
  headers?: readonly string[];
  /** Headers sent with every backend call, e.g. a shared secret by which the backend knows the call comes from this server. They win over a client header of the same name. */
  requestHeaders?: Readonly<Record<string, string>>;
  /** Largest backend answer read, in bytes. Default 256 KiB. */
  maxAnswerBytes?: number;
  /** Sockets to the backend at once, per protocol (kept alive between calls). Default 128. */
  maxSockets?: number;
}

/** The options checked, with the URLs resolved and the defaults applied. */
export interface ResolvedProxyOptions {
  readonly urls: Readonly<Partial<Record<ProxyEvent, URL>>>;
  readonly timeout: number;
  readonly headers: readonly string[];
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly maxAnswerBytes: number;
  readonly maxSockets: number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new TypeError(`proxy.${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function eventUrl(event: ProxyEvent, value: unknown, base: URL | undefined): URL {
  if (typeof value !== 'string' || value.trim() === '') throw new TypeError(`proxy.${event} must be a URL, got ${JSON.stringify(value)}`);
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    throw new TypeError(`proxy.${event} is not a URL${base === undefined ? ' (a relative one needs proxy.baseUrl)' : ''}: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`proxy.${event} must be an http:// or https:// URL, got ${value}`);
  return url;
}

function baseUrlOf(value: unknown): URL | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new TypeError(`proxy.baseUrl must be a URL, got ${JSON.stringify(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`proxy.baseUrl is not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`proxy.baseUrl must be an http:// or https:// URL, got ${value}`);
  return url;
}

/** A header name, lower-cased; a TypeError for one that is malformed or describes the connection. */
function headerName(option: string, entry: unknown): string {
  const name = typeof entry === 'string' ? entry.trim().toLowerCase() : '';
  if (!HEADER_NAME.test(name)) throw new TypeError(`proxy.${option}: ${JSON.stringify(entry)} is not a header name`);
  if (FORBIDDEN_HEADERS.has(name)) throw new TypeError(`proxy.${option}: "${name}" cannot be passed (it belongs to the connection, not the client)`);
  return name;
}

function headerList(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`proxy.headers must be a list of header names, got ${JSON.stringify(value)}`);
  return [...new Set(value.map((entry) => headerName('headers', entry)))];
}

/** Visible ASCII and spaces/tabs inside, as a header value must be. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

function requestHeaderMap(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`proxy.requestHeaders must be an object of header names and values, got ${JSON.stringify(value)}`);
  const headers: Record<string, string> = {};
  for (const [key, text] of Object.entries(value)) {
    const name = headerName('requestHeaders', key);
    if (typeof text !== 'string' || !HEADER_VALUE.test(text)) throw new TypeError(`proxy.requestHeaders: the value of "${name}" must be a string of visible ASCII characters`);
    headers[name] = text;
  }
  return headers;
}

/** Checks `options` and applies the defaults; a TypeError names the first mistake. */
export function resolveProxyOptions(options: ProxyOptions): ResolvedProxyOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('proxy options must be an object');
  const base = baseUrlOf(options.baseUrl);
  const urls: Partial<Record<ProxyEvent, URL>> = {};
  for (const event of PROXY_EVENTS) {
    const value = options[event];
    if (value !== undefined) urls[event] = eventUrl(event, value, base);
  }
  if (Object.keys(urls).length === 0) throw new TypeError(`proxy options name no event URL (one of ${PROXY_EVENTS.join(', ')})`);
  if (urls.refresh !== undefined && urls.connect === undefined) throw new TypeError('proxy.refresh needs proxy.connect (the backend that decides who connects)');
  if (urls.connect !== undefined && urls.refresh === undefined) urls.refresh = urls.connect;
  return {
    urls,
    timeout: positiveInteger('timeout', options.timeout, DEFAULT_PROXY_TIMEOUT),
    headers: headerList(options.headers),
    requestHeaders: requestHeaderMap(options.requestHeaders),
    maxAnswerBytes: positiveInteger('maxAnswerBytes', options.maxAnswerBytes, DEFAULT_PROXY_MAX_ANSWER_BYTES),
    maxSockets: positiveInteger('maxSockets', options.maxSockets, DEFAULT_PROXY_MAX_SOCKETS),
  };
}
