/**
 * The Switchboard real-time wire protocol, version 1: every message a client
 * and a server exchange, as TypeScript types. docs/protocol.md is the prose
 * form of this file; the two must agree.
 *
 * One WebSocket message carries one protocol message: a JSON object in a text
 * frame (subprotocol `switchboard.v1.json`) or a MessagePack map in a binary
 * frame (`switchboard.v1.msgpack`). Receivers ignore fields they do not know.
 */

/** Subprotocol names, in the server's order of preference. */
export const SUBPROTOCOL_JSON = 'switchboard.v1.json';
export const SUBPROTOCOL_MSGPACK = 'switchboard.v1.msgpack';
export const SUBPROTOCOLS = [SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK] as const;
export type Subprotocol = (typeof SUBPROTOCOLS)[number];

/** A position in a channel's stream: publications up to `offset` of stream `epoch`. */
export interface StreamPosition {
  /** Offset of the last publication (0 for a stream with none). */
  offset: number;
  /** Identifies one life of the stream; a new epoch means its history was lost. */
  epoch: string;
}

/** Who published (present when a client published and the namespace shows it). */
export interface ClientInfo {
  client: string;
  user: string;
  info?: unknown;
}

/** One publication of a channel. */
export interface Publication {
  /** Its offset in the channel's stream: consecutive integers from 1. */
  offset: number;
  data: unknown;
  info?: ClientInfo;
}

/** A member of a channel's presence set. */
export type PresenceMember = ClientInfo;

/** Error replies carry this object. `code` is one of `ErrorCode`, or an application's own code for RPC. */
export interface ErrorBody {
  code: string;
  message: string;
  data?: unknown;
}

// ------------------------------------------------------------ client → server

export interface ConnectCommand {
  type: 'connect';
  id: number;
  /** A credential (e.g. a JWT). Optional when the server accepts anonymous clients or reads the `Authorization` header. */
  token?: string;
  /** Free-form data for the server's `authenticate` hook. */
  data?: unknown;
  /** Client name and version, for logs. */
  name?: string;
  version?: string;
}

export interface RefreshCommand {
  type: 'refresh';
  id: number;
  token: string;
}

export interface SubscribeCommand {
  type: 'subscribe';
  id: number;
  channel: string;
  /** Recover the publications after this position (a resubscription). */
  since?: StreamPosition;
  /** Free-form data for the server's `authorize` hook (presence `info` comes from authentication, not from here). */
  data?: unknown;
  /** Ask for publications as deltas where the namespace allows it (docs/protocol.md §5.4). */
  delta?: boolean;
}

export interface UnsubscribeCommand {
  type: 'unsubscribe';
  id: number;
  channel: string;
}

export interface PublishCommand {
  type: 'publish';
  id: number;
  channel: string;
  data: unknown;
}

export interface CallCommand {
  type: 'call';
  id: number;
  method: string;
  data?: unknown;
}

export interface PresenceCommand {
  type: 'presence';
  id: number;
  channel: string;
}

export interface PresenceStatsCommand {
  type: 'presence_stats';
  id: number;
  channel: string;
}

export interface HistoryCommand {
  type: 'history';
  id: number;
  channel: string;
  /** Publications after this position; without it, the latest `limit`. */
  since?: StreamPosition;
  /** At most this many publications (the server caps it). */
  limit?: number;
}

/** A one-way message to the server (no reply). */
export interface SendCommand {
  type: 'send';
  data: unknown;
}

/** The answer to a server's `ping`. */
export interface PongMessage {
  type: 'pong';
}

/** The answer to a server-to-client `call` (sent by clients), or to a command (sent by servers). */
export type ReplyMessage =
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'reply'; id: number; error: ErrorBody };

export type ClientMessage =
  | ConnectCommand
  | RefreshCommand
  | SubscribeCommand
  | UnsubscribeCommand
  | PublishCommand
  | CallCommand
  | PresenceCommand
  | PresenceStatsCommand
  | HistoryCommand
  | SendCommand
  | PongMessage
  | ReplyMessage;

/** Commands that expect a reply. */
export type ClientCommand = Extract<ClientMessage, { id: number; type: Exclude<ClientMessage['type'], 'reply'> }>;

// ------------------------------------------------------------ results (reply.result)

export interface ConnectResult {
  /** The server's id for this connection. */
  client: string;
  /** The user id ('' for anonymous). */
  user: string;
  /** When the credential expires (ms since the epoch); refresh before it. */
  expires?: number;
  /** The server sends `ping` this often (ms); a client that hears nothing for `ping + pong` ms may reconnect. */
  ping: number;
  /** How long the server waits for a `pong` (ms). */
  pong: number;
  /** Data from the server's `authenticate` hook. */
  data?: unknown;
  /** The server's size limits, so that a client can refuse a message the server would not take (docs/protocol.md §9). */
  limits?: ConnectLimits;
}

/** Size limits of the server, in bytes. */
export interface ConnectLimits {
  /** The largest message the server reads; a larger one ends the connection (WebSocket close 1009). */
  message: number;
  /** The largest `data` of a `publish`, as the client's codec encodes it (larger: `limit_exceeded`). */
  publish: number;
}

export interface RefreshResult {
  expires?: number;
}

export interface SubscribeResult {
  /** The channel's current position. */
  offset: number;
  epoch: string;
  /** Whether the channel keeps history (so a later resubscription can recover). */
  recoverable: boolean;
  /** Present when the command had `since`: true when `publications` are exactly the missed ones. */
  recovered?: boolean;
  /** The missed publications, in order (when recovered). */
  publications?: Publication[];
  /**
   * With `recovered`: true when the reply's byte budget cut the recovery
   * short; the rest (after the last of `publications`, up to `offset`)
   * follows from `history` with `since` (docs/protocol.md §4.3).
   */
  more?: boolean;
  /** Data from the server's `authorize` hook (e.g. a proxy backend's subscribe result). */
  data?: unknown;
  /** Present when the command asked for `delta` and the namespace allows it (docs/protocol.md §5.4). */
  delta?: DeltaTerms;
}

/** How publications of a delta subscription come (docs/protocol.md §5.4). */
export interface DeltaTerms {
  /** Most distinct keys the server keeps bases for: the client keeps as many. */
  keys: number;
  /** The data field that names a publication's key; absent: the channel has one key (each delta is against the previous publication). */
  key?: string;
  /** What a delta counts: UTF-16 code units of the JSON text, or bytes of the MessagePack encoding. */
  units: 'text' | 'bytes';
}

export interface PublishResult {
  offset: number;
  epoch: string;
}

export interface CallResult {
  data?: unknown;
}

export interface PresenceResult {
  members: PresenceMember[];
}

export interface PresenceStatsResult {
  clients: number;
  users: number;
}

export interface HistoryResult {
  publications: Publication[];
  offset: number;
  epoch: string;
  /**
   * True when the reply's byte budget cut the answer short: more kept
   * publications follow the last one given; ask again with `since` it.
   */
  more?: boolean;
}

// ------------------------------------------------------------ server → client

export interface PublicationPush {
  type: 'publication';
  channel: string;
  offset: number;
  /** The stream's epoch, sent with the first publication of a stream (offset 1). */
  epoch?: string;
  data: unknown;
  info?: ClientInfo;
  /**
   * Conflation (docs/protocol.md §5.6): this many publications of the channel
   * right before this one were not sent, each superseded by a later one of
   * the same key. The offsets skip them; that is no loss.
   */
  skipped?: number;
  /** Delta compression (§5.4): `data` is a delta against the publication at this offset. */
  delta?: number;
}

export interface JoinPush {
  type: 'join';
  channel: string;
  member: PresenceMember;
}

export interface LeavePush {
  type: 'leave';
  channel: string;
  member: PresenceMember;
}

/** The server ended a subscription on its own. */
export interface UnsubscribedPush {
  type: 'unsubscribed';
  channel: string;
  code: string;
  reason: string;
}

/**
 * The server subscribed the connection to a channel on its own (a
 * server-side subscription, docs/protocol.md §5.3): the channel's
 * publications after `offset` follow as `publication` pushes.
 */
export interface SubscribedPush {
  type: 'subscribed';
  channel: string;
  /** The channel's position when the subscription started. */
  offset: number;
  epoch: string;
  /** Whether the channel keeps history. */
  recoverable: boolean;
}

/** A server-to-client call; the client answers with a `reply` of the same id. */
export interface ServerCallMessage {
  type: 'call';
  id: number;
  method: string;
  data?: unknown;
}

/** A one-way message from the server. */
export interface MessagePush {
  type: 'message';
  data: unknown;
}

export interface PingMessage {
  type: 'ping';
}

/** Sent just before the server closes the WebSocket with the same code. */
export interface DisconnectPush {
  type: 'disconnect';
  code: number;
  reason: string;
  reconnect: boolean;
}

export type ServerMessage =
  | ReplyMessage
  | PublicationPush
  | JoinPush
  | LeavePush
  | UnsubscribedPush
  | SubscribedPush
  | ServerCallMessage
  | MessagePush
  | PingMessage
  | DisconnectPush;
