/**
 * Who a client is: what the `authenticate` hook is given and what it, or the
 * built-in JWT verifier, says about the client (docs/security.md).
 */
import type { IncomingMessage } from 'node:http';
import type { JWTPayload } from 'jose';
import type { JwtOptions } from './auth.js';

/** What a successful authentication says about the client. */
export interface AuthOutcome {
  /** The user id ('' for anonymous). */
  user: string;
  /** Shown in presence and in publications of this client. */
  info?: unknown;
  /** When the credential expires (ms since the epoch); the client must `refresh` before it. */
  expires?: number;
  /** Returned to the client in the connect result. */
  data?: unknown;
}

/** What the `authenticate` hook is given. */
export interface AuthenticateContext {
  /** 'connect', or 'refresh' for a client's `refresh` of its credential. */
  event: 'connect' | 'refresh';
  /** The credential: `connect.token` (or `refresh.token`), else the upgrade's `Authorization: Bearer` value. */
  token?: string;
  /** The token's claims, when the built-in JWT verifier accepted it. */
  claims?: JWTPayload;
  /** `connect.data` (undefined for a refresh). */
  data: unknown;
  /** The upgrade request. */
  request: IncomingMessage;
  remoteAddress?: string;
  /** 'websocket', or 'http' for the HTTP fallback transport. */
  transport: 'websocket' | 'http';
  /** `connect.name` and `connect.version`: the client library, for logs (undefined for a refresh). */
  name?: string;
  version?: string;
  /** On a refresh: the connection's id and user (a refresh may not change the user). */
  connection?: { client: string; user: string };
}

/** Decides who the client is; null refuses it (`unauthorized`). Throw `RpcError` for another code. */
export type AuthenticateHook = (context: AuthenticateContext) => AuthOutcome | null | Promise<AuthOutcome | null>;

export interface AuthOptions {
  /** Verify tokens as JWTs (HS*, RS*, ES*, or a remote JWKS). */
  jwt?: JwtOptions;
  /** Decide who the client is (after the JWT check, when there is one). */
  authenticate?: AuthenticateHook | undefined;
  /** Let clients without a credential in. Default: true when neither `jwt` nor `authenticate` is set, else false. */
  anonymous?: boolean;
}
