/**
 * The hooks, typed from the application's API type (the one
 * `RealtimeClient<Api>` and `createRealtimeServer<Api>` take):
 * `createRealtimeHooks<Api>()` returns them bound to it; the module's own
 * exports are the untyped set. Every hook is inert during server rendering
 * (no client there): it returns its initial state and subscribes nothing.
 */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type {
  ApiShape,
  CallArgs,
  ChannelName,
  ClientState,
  HistoryQuery,
  MethodName,
  MethodParams,
  MethodResult,
  PresenceMember,
  PublicationData,
  PublicationEvent,
  PublishResult,
  RealtimeClient,
  RealtimeError,
  RequestOptions,
  Subscription,
  SubscriptionState,
  TypedPublication,
  UntypedApi,
} from '../realtime/sdk/index.js';
import { NoRealtimeClientError } from './errors.js';
import type { ChannelLeases } from './leases.js';
import { useRealtimeContext } from './provider.js';

export interface ChannelHandle<T> {
  /** Publishes in the channel (rejects with `NoRealtimeClientError` without a client). */
  publish: (data: T, options?: RequestOptions) => Promise<PublishResult>;
  /** The subscription's state: `'unsubscribed'` until it exists, then as `Subscription.state`. */
  state: SubscriptionState;
  /** The last failed subscribe attempt, cleared by the next successful one. */
  error: RealtimeError | undefined;
}

export interface PresenceState {
  /** The channel's members, kept up to date by join/leave events (reloaded after each resubscribe). */
  members: PresenceMember[];
  error: RealtimeError | undefined;
}

export interface HistoryState<T> {
  /** The latest `limit` publications, oldest first: the kept ones, then the live ones as they come. */
  publications: Array<TypedPublication<T>>;
  /** True until the first history answer. */
  loading: boolean;
  error: RealtimeError | undefined;
}

export interface CallState<P, R> {
  /** Calls the method (rejects as `client.call` does; the state below follows it). */
  call: (...args: CallArgs<P>) => Promise<R>;
  pending: boolean;
  result: R | undefined;
  error: RealtimeError | NoRealtimeClientError | undefined;
}

export interface RealtimeHooks<A extends ApiShape> {
  /** The provider's client (null during server rendering and before the provider's first effect). */
  useRealtimeClient(): RealtimeClient<A> | null;
  /** The client's state: `'disconnected'` on the server and without a client. */
  useConnectionState(): ClientState;
  /** Subscribes while mounted (one subscription per channel, shared); `onPublication` sees every publication. */
  useChannel<C extends ChannelName<A>>(channel: C, onPublication?: (publication: PublicationEvent<PublicationData<A, C>>) => void): ChannelHandle<PublicationData<A, C>>;
  /** The channel's presence set (subscribes while mounted: the namespace needs `presence: true`). */
  usePresence(channel: ChannelName<A>): PresenceState;
  /** The latest publications of a channel that keeps history, then live ones (subscribes while mounted). */
  useHistory<C extends ChannelName<A>>(channel: C, query?: { limit?: number }): HistoryState<PublicationData<A, C>>;
  /** A method of the server, with the state of the last call. */
  useCall<M extends MethodName<A>>(method: M): CallState<MethodParams<A, M>, MethodResult<A, M>>;
}

/** The default window of `useHistory`. */
export const DEFAULT_HISTORY_LIMIT = 50;

function useClient(): RealtimeClient<ApiShape> | null {
  return useRealtimeContext().client;
}

/** Leases the channel while mounted; the subscription, or null without a client. */
function useLease(channel: string): Subscription<unknown> | null {
  const { leases } = useRealtimeContext();
  const [held, setHeld] = useState<{ leases: ChannelLeases; subscription: Subscription<unknown> } | null>(null);
  useEffect(() => {
    if (leases === null) return;
    setHeld({ leases, subscription: leases.acquire(channel) });
    return () => leases.release(channel);
  }, [leases, channel]);
  // Never a subscription of another channel or client (the state lags one render behind a change).
  return held !== null && held.leases === leases && held.subscription.channel === channel ? held.subscription : null;
}

function useConnectionState(): ClientState {
  const client = useClient();
  const subscribe = useCallback(
    (notify: () => void) => {
      if (client === null) return () => {};
      client.on('state', notify);
      return () => void client.off('state', notify);
    },
    [client],
  );
  return useSyncExternalStore(subscribe, () => client?.state ?? 'disconnected', () => 'disconnected');
}

function useChannel(channel: string, onPublication?: (publication: PublicationEvent<unknown>) => void): ChannelHandle<unknown> {
  const client = useClient();
  const subscription = useLease(channel);
  const handler = useRef(onPublication);
  useEffect(() => {
    handler.current = onPublication;
  });
  const [error, setError] = useState<RealtimeError | undefined>(undefined);
  useEffect(() => {
    if (subscription === null) return;
    const publication = (event: PublicationEvent<unknown>): void => handler.current?.(event);
    const failed = (failure: RealtimeError): void => setError(failure);
    const subscribed = (): void => setError(undefined);
    subscription.on('publication', publication).on('error', failed).on('subscribed', subscribed);
    return () => void subscription.off('publication', publication).off('error', failed).off('subscribed', subscribed);
  }, [subscription]);
  const subscribeState = useCallback(
    (notify: () => void) => {
      if (subscription === null) return () => {};
      subscription.on('state', notify);
      return () => void subscription.off('state', notify);
    },
    [subscription],
  );
  const state = useSyncExternalStore(subscribeState, () => subscription?.state ?? 'unsubscribed', () => 'unsubscribed' as const);
  const publish = useCallback(
    (data: unknown, options?: RequestOptions) => (client === null ? Promise.reject(new NoRealtimeClientError()) : client.publish(channel, data, options)),
    [client, channel],
  );
  return { publish, state, error };
}

function usePresence(channel: string): PresenceState {
  const subscription = useLease(channel);
  const [state, setState] = useState<PresenceState>({ members: [], error: undefined });
  useEffect(() => {
    if (subscription === null) return;
    let live = true;
    const load = (): void => {
      subscription.presence().then(
        (members) => live && setState({ members, error: undefined }),
        (error: RealtimeError) => live && setState((previous) => ({ ...previous, error })),
      );
    };
    const join = (member: PresenceMember): void =>
      setState((previous) => ({ ...previous, members: [...previous.members.filter(({ client }) => client !== member.client), member] }));
    const leave = (member: PresenceMember): void =>
      setState((previous) => ({ ...previous, members: previous.members.filter(({ client }) => client !== member.client) }));
    subscription.on('subscribed', load).on('join', join).on('leave', leave);
    if (subscription.state === 'subscribed') load();
    return () => {
      live = false;
      subscription.off('subscribed', load).off('join', join).off('leave', leave);
    };
  }, [subscription]);
  return subscription === null ? { members: [], error: undefined } : state;
}

function useHistory(channel: string, query: { limit?: number } = {}): HistoryState<unknown> {
  const subscription = useLease(channel);
  const limit = query.limit ?? DEFAULT_HISTORY_LIMIT;
  const [state, setState] = useState<HistoryState<unknown>>({ publications: [], loading: true, error: undefined });
  useEffect(() => {
    if (subscription === null) return;
    let live = true;
    /** Live publications that came while a history query was out; null once it answered. */
    let pending: Array<TypedPublication<unknown>> | null = [];
    const keep = (publications: Array<TypedPublication<unknown>>): Array<TypedPublication<unknown>> => publications.slice(-limit);
    const load = (): void => {
      const waiting: Array<TypedPublication<unknown>> = [];
      pending = waiting;
      subscription.history({ limit } satisfies HistoryQuery).then(
        (history) => {
          if (!live || pending !== waiting) return;
          pending = null;
          const later = waiting.filter(({ offset }) => offset > history.offset);
          setState({ publications: keep([...history.publications, ...later]), loading: false, error: undefined });
        },
        (error: RealtimeError) => live && setState((previous) => ({ ...previous, loading: false, error })),
      );
    };
    const publication = ({ offset, data, info }: PublicationEvent<unknown>): void => {
      const kept: TypedPublication<unknown> = info === undefined ? { offset, data } : { offset, data, info };
      if (pending !== null) pending.push(kept);
      else setState((previous) => ({ ...previous, publications: keep([...previous.publications, kept]) }));
    };
    // A first subscribe, or a resubscribe that could not recover: (re)load. A recovered one replays what was missed.
    const subscribed = ({ recovered }: { recovered?: boolean }): void => {
      if (recovered !== true) load();
    };
    subscription.on('publication', publication).on('subscribed', subscribed);
    if (subscription.state === 'subscribed') load();
    return () => {
      live = false;
      subscription.off('publication', publication).off('subscribed', subscribed);
    };
  }, [subscription, limit]);
  return subscription === null ? { publications: [], loading: true, error: undefined } : state;
}

function useCall(method: string): CallState<unknown, unknown> {
  const client = useClient();
  const [state, setState] = useState<Omit<CallState<unknown, unknown>, 'call'>>({ pending: false, result: undefined, error: undefined });
  const call = useCallback(
    async (...args: CallArgs<unknown>): Promise<unknown> => {
      if (client === null) {
        const error = new NoRealtimeClientError();
        setState({ pending: false, result: undefined, error });
        throw error;
      }
      setState((previous) => ({ ...previous, pending: true }));
      try {
        const result = await client.call(method, ...args);
        setState({ pending: false, result, error: undefined });
        return result;
      } catch (error) {
        setState({ pending: false, result: undefined, error: error as RealtimeError });
        throw error;
      }
    },
    [client, method],
  );
  return { call, ...state };
}

const untyped = {
  useRealtimeClient: useClient,
  useConnectionState,
  useChannel,
  usePresence,
  useHistory,
  useCall,
};

/** The hooks, typed by the application's API type: `export const { useChannel, … } = createRealtimeHooks<ChatApi>();`. */
export function createRealtimeHooks<A extends ApiShape = UntypedApi>(): RealtimeHooks<A> {
  return untyped as unknown as RealtimeHooks<A>;
}

