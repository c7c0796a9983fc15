/**
 * `switchboard/react`: React bindings of the real-time SDK — a provider for
 * one `RealtimeClient` and hooks over it (docs/integrations.md, React).
 * React ≥ 18 is a peer dependency. Only types of the SDK are imported, so
 * these bindings use whichever SDK build your client comes from.
 *
 * ```ts
 * export const { useChannel, usePresence, useHistory, useCall, useConnectionState } = createRealtimeHooks<ChatApi>();
 * ```
 */
import { createRealtimeHooks } from './hooks.js';

export { RealtimeProvider, RealtimeContext, useRealtimeContext, type RealtimeContextValue, type RealtimeProviderProps } from './provider.js';
export { ChannelLeases, DEFAULT_LEASE_LINGER } from './leases.js';
export { NoRealtimeClientError } from './errors.js';
export { createRealtimeHooks, DEFAULT_HISTORY_LIMIT, type CallState, type ChannelHandle, type HistoryState, type PresenceState, type RealtimeHooks } from './hooks.js';

/** The hooks for an untyped API (any channel or method, `unknown` data); use `createRealtimeHooks<Api>()` for typed ones. */
export const { useRealtimeClient, useConnectionState, useChannel, usePresence, useHistory, useCall } = createRealtimeHooks();
