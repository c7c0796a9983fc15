/**
 * Parsing of the header values the handshake reads: comma-separated token
 * lists (RFC 9110 §5.6.1) and the `Sec-WebSocket-Extensions` grammar
 * (RFC 6455 §9.1). Pure functions over strings.
 */

/** Header map as Node's `IncomingMessage.headers` has it: lower-case names. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** The value of a header, repeated fields joined with ", " (RFC 9110 §5.3). */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

const TOKEN_CHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(value: string): boolean {
  return TOKEN_CHAR.test(value);
}

/** Splits a comma-separated list, trimming whitespace and dropping empty elements. */
export function parseList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const items: string[] = [];
  for (const part of value.split(',')) {
    const item = part.trim();
    if (item !== '') items.push(item);
  }
  return items;
}

/** True when the comma-separated token list holds `token`, compared case-insensitively. */
export function listHasToken(value: string | undefined, token: string): boolean {
  const wanted = token.toLowerCase();
  return parseList(value).some((item) => item.toLowerCase() === wanted);
}

/** One extension parameter: `name` or `name=value`. */
export type ExtensionParam = [name: string, value: string | true];

/** One element of a `Sec-WebSocket-Extensions` header. */
export interface ExtensionOffer {
  name: string;
  params: ExtensionParam[];
}

export class HeaderSyntaxError extends Error {}

/**
 * Parses a `Sec-WebSocket-Extensions` value into its elements, in order.
 * Parameter values may be tokens or quoted strings whose content is a token.
 * Throws `HeaderSyntaxError` on anything else.
 */
export function parseExtensions(value: string): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(value[i]!)) i++;
    if (i === start) throw new HeaderSyntaxError(`expected a token at ${start} in "${value}"`);
    return value.slice(start, i);
  };
  const readQuoted = (): string => {
    i++; // opening quote
    let out = '';
    while (i < n && value[i] !== '"') {
      if (value[i] === '\\') i++;
      if (i >= n) break;
      out += value[i++];
    }
    if (i >= n) throw new HeaderSyntaxError(`unterminated quoted string in "${value}"`);
    i++; // closing quote
    if (!isToken(out)) throw new HeaderSyntaxError(`quoted value "${out}" is not a token`);
    return out;
  };
  for (;;) {
    skipSpace();
    if (i < n && value[i] === ',') {
      // Empty list elements are allowed by the list syntax.
      i++;
      continue;
    }
    if (i >= n) break;
    const offer: ExtensionOffer = { name: readToken(), params: [] };
    skipSpace();
    while (i < n && value[i] === ';') {
      i++;
      skipSpace();
      const name = readToken();
      skipSpace();
      let paramValue: string | true = true;
      if (i < n && value[i] === '=') {
        i++;
        skipSpace();
        paramValue = value[i] === '"' ? readQuoted() : readToken();
        skipSpace();
      }
      offer.params.push([name, paramValue]);
    }
    offers.push(offer);
    skipSpace();
    if (i < n) {
      if (value[i] !== ',') throw new HeaderSyntaxError(`unexpected "${value[i]}" at ${i} in "${value}"`);
      i++;
    }
  }
  return offers;
}

/** Formats extension elements back into a header value. */
export function formatExtensions(offers: ExtensionOffer[]): string {
  return offers
    .map((offer) =>
      [offer.name, ...offer.params.map(([name, value]) => (value === true ? name : `${name}=${value}`))].join('; '),
    )
    .join(', ');
}

/** A `Host` header value split into its parts (RFC 9110 §7.2, RFC 3986 §3.2.2). */
export interface HostParts {
  /** The host in lower case: a registered name, an IPv4 address, or an IPv6 literal with its brackets. */
  hostname: string;
  /** The port as written ('' when absent). */
  port: string;
}

const IP_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/;
/** RFC 3986 reg-name: unreserved, sub-delims and percent-encoded octets. */
const REG_NAME = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;
const PORT = /^[0-9]{0,5}$/;

/**
 * Parses a `Host` header value (`uri-host [":" port]`); null when it is not
 * one, e.g. two values joined by a comma and a space, a userinfo part, a path,
 * whitespace, or a port over 65535.
 */
export function parseHost(value: string): HostParts | null {
  if (value.length === 0) return null;
  let host = value;
  let port = '';
  const bracket = value.lastIndexOf(']');
  const colon = value.lastIndexOf(':');
  if (colon > bracket) {
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
    if (!PORT.test(port) || Number(port) > 65535) return null;
  }
  const valid = host.startsWith('[') ? IP_LITERAL.test(host) : REG_NAME.test(host);
  return valid ? { hostname: host.toLowerCase(), port } : null;
}
