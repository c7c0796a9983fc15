/**
 * The names and numbers of the HTTP fallback transport (docs/protocol.md §11)
 * that server and client share: endpoints, headers and request limits.
 */

/** Endpoints, relative to the real-time path (e.g. `/rt` → `POST /rt/http`). */
export const HTTP_ENDPOINTS = {
  /** POST: opens a session (the body holds the first messages); the response is the session's event stream. DELETE: ends a session. */
  session: '/http',
  /** GET: the event stream again, after a lost one (`Last-Event-ID`). */
  stream: '/http/stream',
  /** POST: a batch of client messages. */
  send: '/http/send',
} as const;

/**
 * The version of the fallback's framing (docs/protocol.md §11.1). Version 2:
 * events carry no `id:`, the client counts them. The request that opens a
 * session names it in `X-Switchboard-Fallback`; the server refuses other
 * versions (and requests that name none: version 1 clients) with 400.
 */
export const HTTP_FALLBACK_VERSION = 2;

/** Headers, in the lower case Node reports them in. */
export const HTTP_HEADERS = {
  /** In the request that opens a session: the fallback version the client speaks (`HTTP_FALLBACK_VERSION`). */
  version: 'x-switchboard-fallback',
  /** The session id: in the response that opens a session, then in every request of it. */
  session: 'x-switchboard-session',
  /** The sequence number of an uplink batch: 1, 2, 3 … (the open request's body is batch 0). */
  seq: 'x-switchboard-seq',
  /** Optional on uplink requests: how many events the client received in the session (the server may forget them). */
  ack: 'x-switchboard-ack',
  /** In the response that opens a session: how long (ms) the session waits for a lost event stream to come back. */
  downlinkTimeout: 'x-switchboard-downlink-timeout',
  /** The standard header of a resumed event stream: how many events the client received in the session (the number of the last). */
  lastEventId: 'last-event-id',
} as const;

/** A request body may hold up to this many times the server's `maxMessageSize` bytes. */
export const HTTP_BODY_FACTOR = 16;

/** A session id: 128 random bits in base64url (22 characters). */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
