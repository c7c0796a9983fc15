/** Errors of the React bindings. */

/**
 * A hook was asked to talk to the server when there is no client: during
 * server rendering, before the provider's first effect created it, or
 * outside a `<RealtimeProvider>`.
 */
export class NoRealtimeClientError extends Error {
  override readonly name = 'NoRealtimeClientError';
  readonly code = 'no_client';

  constructor() {
    super('no RealtimeClient here: server rendering, before the provider mounted, or outside <RealtimeProvider>');
  }
}
