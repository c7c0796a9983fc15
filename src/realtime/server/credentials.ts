/**
 * Who a client is, from the credential of its `connect` (or `refresh`): the
 * built-in JWT verifier, then the application's `authenticate` hook, or an
 * anonymous user when the server allows it (docs/protocol.md §4.1, §4.2).
 */
import type { IncomingMessage } from 'node:http';
import type { JWTPayload } from 'jose';
import { ErrorCode } from '../wire/errors.js';
import { createJwtVerifier, TokenError } from './auth.js';
import { RpcError } from './errors.js';
import type { AuthenticateContext, AuthenticateHook, AuthOptions, AuthOutcome } from './authentication.js';

/** What a credential check is given. */
export interface CredentialInput {
  event: 'connect' | 'refresh';
  token: string | undefined;
  /** `connect.data` (undefined for a refresh). */
  data: unknown;
  /** The upgrade request (needed only by an `authenticate` hook). */
  request: IncomingMessage | undefined;
  remoteAddress: string | undefined;
  transport: 'websocket' | 'http';
  /** `connect.name` and `connect.version`. */
  name?: string | undefined;
  version?: string | undefined;
  /** On a refresh: the connection's id and user. */
  connection?: { client: string; user: string };
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match === null ? undefined : match[1];
}

/** The outcome a verified JWT stands for: `sub`, `exp` and the `info` claim. */
function outcomeOfClaims(claims: JWTPayload): AuthOutcome {
  const outcome: AuthOutcome = { user: typeof claims.sub === 'string' ? claims.sub : '' };
  if (typeof claims.exp === 'number') outcome.expires = claims.exp * 1000;
  if (claims.info !== undefined) outcome.info = claims.info;
  return outcome;
}

function isOutcome(value: unknown): value is AuthOutcome {
  if (typeof value !== 'object' || value === null) return false;
  const { user, expires } = value as Record<string, unknown>;
  return typeof user === 'string' && (expires === undefined || (typeof expires === 'number' && Number.isFinite(expires)));
}

/** The `authenticate` hook's context for a check (fields the input lacks are left out). */
function hookContext(input: CredentialInput, claims: JWTPayload | undefined): AuthenticateContext {
  const context: AuthenticateContext = { event: input.event, token: input.token, claims, data: input.data, request: input.request!, transport: input.transport };
  if (input.remoteAddress !== undefined) context.remoteAddress = input.remoteAddress;
  if (input.name !== undefined) context.name = input.name;
  if (input.version !== undefined) context.version = input.version;
  if (input.connection !== undefined) context.connection = input.connection;
  return context;
}

/** Checks credentials per the server's `auth` options. */
export class CredentialChecker {
  private readonly verify: ((token: string) => Promise<JWTPayload>) | null;
  private readonly hook: AuthenticateHook | null;
  /** Whether clients without a credential are let in. */
  readonly anonymous: boolean;

  constructor(options: AuthOptions = {}) {
    this.verify = options.jwt !== undefined ? createJwtVerifier(options.jwt) : null;
    this.hook = options.authenticate ?? null;
    this.anonymous = options.anonymous ?? (this.verify === null && this.hook === null);
  }

  /** True when an `authenticate` hook needs the upgrade request (so a session keeps it for `refresh`). */
  get needsRequest(): boolean {
    return this.hook !== null;
  }

  /**
   * Who the client is. Rejects with `RpcError` `unauthorized` or
   * `token_expired`; with `internal` when the hook failed (not the
   * client's fault); or with the `RpcError` the hook threw.
   */
  async check(input: CredentialInput): Promise<AuthOutcome> {
    const claims = await this.verifyToken(input.token);
    const outcome = await this.decide(input, claims);
    if (outcome.expires !== undefined && outcome.expires <= Date.now()) {
      throw new RpcError(ErrorCode.TokenExpired, 'the credential has expired');
    }
    return outcome;
  }

  private async verifyToken(token: string | undefined): Promise<JWTPayload | undefined> {
    if (this.verify === null || token === undefined) return undefined;
    try {
      return await this.verify(token);
    } catch (error) {
      if (error instanceof TokenError) throw new RpcError(error.code, error.message);
      throw new RpcError(ErrorCode.Unauthorized, 'invalid token');
    }
  }

  private async decide(input: CredentialInput, claims: JWTPayload | undefined): Promise<AuthOutcome> {
    if (this.hook !== null && input.request !== undefined) {
      const outcome = await this.runHook(this.hook, input, claims);
      if (outcome !== null) return outcome;
    } else if (claims !== undefined) {
      return outcomeOfClaims(claims);
    }
    if (input.token === undefined && this.anonymous) return { user: '' };
    throw new RpcError(ErrorCode.Unauthorized, input.token === undefined ? 'a credential is required' : 'unauthorized');
  }

  private async runHook(hook: AuthenticateHook, input: CredentialInput, claims: JWTPayload | undefined): Promise<AuthOutcome | null> {
    let outcome: unknown;
    try {
      outcome = await hook(hookContext(input, claims));
    } catch (error) {
      if (error instanceof RpcError) throw error;
      if (error instanceof TokenError) throw new RpcError(error.code, error.message);
      throw new HookError(error);
    }
    if (outcome === null || outcome === undefined) return null;
    if (!isOutcome(outcome)) throw new HookError(new TypeError('authenticate must return { user: string, expires?: number, ... } or null'));
    return outcome;
  }
}

/** The `authenticate` hook failed (threw, or returned something that is not an outcome). */
export class HookError extends RpcError {
  constructor(cause: unknown) {
    super(ErrorCode.Internal, 'authentication failed');
    this.cause = cause;
  }
}
