/**
 * Proxy hooks: the server's `authenticate`, `authorize` and
 * `fallbackMethod` made of HTTP calls to a backend that owns authentication
 * and business rules (docs/realtime.md, "Proxy hooks"). Each event is POSTed
 * as JSON to its URL and the backend's answer is obeyed.
 *
 * ```ts
 * const proxy = createProxyHooks({ baseUrl: 'http://127.0.0.1:3000/rt/', connect: 'connect', publish: 'publish', headers: ['cookie'] });
 * createRealtimeServer({ port: 8080, auth: { authenticate: proxy.authenticate }, authorize: proxy.authorize, fallbackMethod: proxy.fallbackMethod });
 * ```
 */
import type { IncomingMessage } from 'node:http';
import type { ApiShape, UntypedApi } from '../../wire/api.js';
import type { AuthenticateContext, AuthenticateHook, AuthorizeContext, AuthorizeDecision, AuthOutcome, FallbackMethod } from '../options.js';
import type { Session } from '../session.js';
import { BackendClient } from './backend.js';
import { invalidAnswer, resultOf } from './answer.js';
import { resolveProxyOptions, type ProxyOptions, type ResolvedProxyOptions } from './options.js';

/** The hooks for the events that have a URL; plug them into `createRealtimeServer`'s options. */
export interface ProxyHooks<A extends ApiShape = UntypedApi> {
  /** `auth.authenticate`: set with a `connect` URL (refreshes go to `refresh`, else to `connect`). */
  readonly authenticate?: AuthenticateHook;
  /** `authorize`: set with a `subscribe` or `publish` URL; every other action is allowed. */
  readonly authorize?: (context: AuthorizeContext<A>) => Promise<AuthorizeDecision>;
  /** `fallbackMethod`: set with an `rpc` URL. */
  readonly fallbackMethod?: FallbackMethod<A>;
  /** The options in force. */
  readonly options: ResolvedProxyOptions;
  /** Closes the kept-alive connections to the backend. */
  close(): void;
}

/** The allowed headers of the upgrade request (repeated ones joined as Node joins them). */
function passedHeaders(request: IncomingMessage, names: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
    else if (Array.isArray(value)) headers[name] = value.join(', ');
  }
  return headers;
}

/** Copies the fields that are defined. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** The outcome a `connect` (or `refresh`) result stands for. */
function outcomeOf(result: Record<string, unknown>, fallbackUser: string | undefined): AuthOutcome {
  const user = result.user ?? fallbackUser;
  if (typeof user !== 'string') throw invalidAnswer('"result.user" must be a string (\'\' for anonymous)');
  const { expires } = result;
  if (expires !== undefined && (typeof expires !== 'number' || !Number.isFinite(expires))) throw invalidAnswer('"result.expires" must be a time in ms since the epoch');
  const outcome: AuthOutcome = { user };
  if (expires !== undefined) outcome.expires = expires;
  if (result.info !== undefined) outcome.info = result.info;
  if (result.data !== undefined) outcome.data = result.data;
  return outcome;
}

/** Makes the hooks of `options`; throws a TypeError for options that cannot work. */
export function createProxyHooks<A extends ApiShape = UntypedApi>(options: ProxyOptions): ProxyHooks<A> {
  const resolved = resolveProxyOptions(options);
  const { urls } = resolved;
  const client = new BackendClient(resolved, resolved.requestHeaders);

  const authenticate: AuthenticateHook = async (context: AuthenticateContext) => {
    const refresh = context.event === 'refresh';
    const url = refresh ? urls.refresh! : urls.connect!;
    const body = defined({
      event: context.event,
      client: context.connection?.client,
      user: context.connection?.user,
      transport: context.transport,
      remoteAddress: context.remoteAddress,
      name: context.name,
      version: context.version,
      token: context.token,
      data: context.data,
    });
    const answer = await client.post(url, body, passedHeaders(context.request, resolved.headers));
    return outcomeOf(resultOf(answer), context.connection?.user);
  };

  const authorize = async ({ session, channel, action, data }: AuthorizeContext<A>): Promise<AuthorizeDecision> => {
    if (action !== 'subscribe' && action !== 'publish') return true;
    const url = urls[action];
    if (url === undefined) return true;
    const result = resultOf(await client.post(url, defined({ client: session.id, user: session.user, channel, data })));
    return 'data' in result ? { data: result.data } : true;
  };

  const fallbackMethod = async (method: string, params: unknown, session: Session<A>): Promise<unknown> => {
    const result = resultOf(await client.post(urls.rpc!, defined({ client: session.id, user: session.user, method, params })));
    return result.data ?? null;
  };

  const hooks: { -readonly [K in keyof ProxyHooks<A>]: ProxyHooks<A>[K] } = { options: resolved, close: () => client.close() };
  if (urls.connect !== undefined) hooks.authenticate = authenticate;
  if (urls.subscribe !== undefined || urls.publish !== undefined) hooks.authorize = authorize;
  if (urls.rpc !== undefined) hooks.fallbackMethod = fallbackMethod;
  return hooks;
}
