/**
 * End-to-end typing: an application describes its channels and RPC methods
 * once, as a type, and both `createRealtimeServer<Api>()` and
 * `new RealtimeClient<Api>()` check names, payloads and results against it.
 *
 * ```ts
 * interface ChatApi {
 *   channels: { chat: { text: string; from: string } };          // chat:<anything> carries these
 *   methods: { 'rooms.create': { params: { name: string }; result: { id: string } } };
 *   clientMethods: { confirm: { params: { question: string }; result: boolean } };
 * }
 * ```
 * Without a type argument everything is `unknown`/`string`.
 */

export interface MethodSpec {
  params: unknown;
  result: unknown;
}

export interface ApiShape {
  /** Publication data per namespace (`''` is the default namespace, channels without `:`). */
  channels?: Record<string, unknown>;
  /** Client-to-server methods. */
  methods?: Record<string, MethodSpec>;
  /** Server-to-client methods. */
  clientMethods?: Record<string, MethodSpec>;
}

/** The API used when none is given: any channel, any method, unknown data. */
export interface UntypedApi {
  channels: Record<string, unknown>;
  methods: Record<string, MethodSpec>;
  clientMethods: Record<string, MethodSpec>;
}

type ChannelsOf<A extends ApiShape> = A['channels'] extends Record<string, unknown> ? A['channels'] : Record<string, unknown>;
type MethodsOf<A extends ApiShape> = A['methods'] extends Record<string, MethodSpec> ? A['methods'] : Record<string, MethodSpec>;
type ClientMethodsOf<A extends ApiShape> = A['clientMethods'] extends Record<string, MethodSpec>
  ? A['clientMethods']
  : Record<string, MethodSpec>;

/**
 * Channel names the API allows: `ns:${string}` per namespace, any name without `:` for `''`,
 * and any name at all when the namespaces are not listed (a `string` index, as in `UntypedApi`).
 */
export type ChannelName<A extends ApiShape> = string extends keyof ChannelsOf<A>
  ? string
  : {
      [N in keyof ChannelsOf<A> & string]: N extends '' ? string : `${N}:${string}`;
    }[keyof ChannelsOf<A> & string];

/** Publication data of channel `C`. */
export type PublicationData<A extends ApiShape, C extends string> = C extends `${infer N}:${string}`
  ? N extends keyof ChannelsOf<A>
    ? ChannelsOf<A>[N]
    : unknown
  : '' extends keyof ChannelsOf<A>
    ? ChannelsOf<A>['']
    : unknown;

export type MethodName<A extends ApiShape> = keyof MethodsOf<A> & string;
export type MethodParams<A extends ApiShape, M extends string> = M extends keyof MethodsOf<A> ? MethodsOf<A>[M]['params'] : unknown;
export type MethodResult<A extends ApiShape, M extends string> = M extends keyof MethodsOf<A> ? MethodsOf<A>[M]['result'] : unknown;

export type ClientMethodName<A extends ApiShape> = keyof ClientMethodsOf<A> & string;
export type ClientMethodParams<A extends ApiShape, M extends string> = M extends keyof ClientMethodsOf<A>
  ? ClientMethodsOf<A>[M]['params']
  : unknown;
export type ClientMethodResult<A extends ApiShape, M extends string> = M extends keyof ClientMethodsOf<A>
  ? ClientMethodsOf<A>[M]['result']
  : unknown;

/**
 * A runtime schema the server can check payloads with: anything implementing
 * Standard Schema v1 (zod ≥ 3.24, valibot ≥ 1, arktype ...).
 */
export interface StandardSchema<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    validate(value: unknown):
      | StandardResult<Output>
      | Promise<StandardResult<Output>>;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> }> };
