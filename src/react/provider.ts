/**
 * `<RealtimeProvider>`: one `RealtimeClient` for the components below it.
 * It never creates or connects a client while rendering — only in an
 * effect, which server rendering does not run — so a server-rendered tree
 * opens no socket. A client it created (`create`) is closed when the provider
 * unmounts for good; the close waits a tick so that StrictMode's effect
 * re-run and fast refresh keep the same client and connection.
 */
import { createContext, createElement, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { ApiShape, RealtimeClient } from '../realtime/sdk/index.js';
import { ChannelLeases, DEFAULT_LEASE_LINGER } from './leases.js';

/** What the hooks get from the provider: null members during server rendering and before the first effect. */
export interface RealtimeContextValue {
  client: RealtimeClient<ApiShape> | null;
  leases: ChannelLeases | null;
}

const EMPTY: RealtimeContextValue = { client: null, leases: null };

export const RealtimeContext = createContext<RealtimeContextValue>(EMPTY);

export interface RealtimeProviderProps<A extends ApiShape> {
  /** A client you own: the provider connects it (see `connect`) but never closes it. */
  client?: RealtimeClient<A>;
  /** Or: makes the provider's own client, in an effect (never on the server); closed when the provider unmounts. */
  create?: () => RealtimeClient<A>;
  /** Call `connect()` on a disconnected client when the provider mounts. Default true. */
  connect?: boolean;
  /** How long a channel no component uses stays subscribed, in ms. Default 0 (the next tick). */
  linger?: number;
  children?: ReactNode;
}

interface Owned {
  client: RealtimeClient<ApiShape>;
  closing: ReturnType<typeof setTimeout> | undefined;
}

export function RealtimeProvider<A extends ApiShape>(props: RealtimeProviderProps<A>): ReactNode {
  const given = (props.client ?? null) as RealtimeClient<ApiShape> | null;
  const create = useRef(props.create);
  create.current = props.create;
  const owned = useRef<Owned | null>(null);
  const [created, setCreated] = useState<RealtimeClient<ApiShape> | null>(null);

  useEffect(() => {
    if (given !== null || create.current === undefined) return;
    let entry = owned.current;
    if (entry === null) {
      entry = { client: create.current() as unknown as RealtimeClient<ApiShape>, closing: undefined };
      owned.current = entry;
    }
    clearTimeout(entry.closing);
    entry.closing = undefined;
    setCreated(entry.client);
    const mine = entry;
    return () => {
      mine.closing = setTimeout(() => {
        if (owned.current === mine) owned.current = null;
        mine.client.close();
      }, 0);
    };
  }, [given]);

  const client = given ?? created;
  const shouldConnect = props.connect ?? true;
  useEffect(() => {
    if (client !== null && shouldConnect && client.state === 'disconnected') client.connect();
  }, [client, shouldConnect]);

  // One set of leases per client, whatever `linger` becomes: two would unsubscribe each other's channels.
  const value = useMemo<RealtimeContextValue>(() => (client === null ? EMPTY : { client, leases: new ChannelLeases(client) }), [client]);
  const linger = props.linger ?? DEFAULT_LEASE_LINGER;
  useEffect(() => {
    if (value.leases !== null) value.leases.linger = linger;
  }, [value, linger]);
  return createElement(RealtimeContext.Provider, { value }, props.children);
}

/** The provider's value (the empty one outside a provider). */
export function useRealtimeContext(): RealtimeContextValue {
  return useContext(RealtimeContext);
}
