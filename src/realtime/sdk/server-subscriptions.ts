/**
 * Server-side subscriptions: channels the server subscribed this connection
 * to (`rt.user(id).subscribe`, the server API's `subscribe`; docs/protocol.md
 * §5.3). They are not `Subscription` objects: their pushes become the
 * client's 'subscribed', 'publication' and 'unsubscribed' events, and they
 * end with the connection (the server subscribes again if it wants to).
 */
import type { PublicationPush } from '../wire/messages.js';
import type { ClientEmit, ServerPublicationEvent } from './client-events.js';

export class ServerSubscriptions {
  readonly #channels = new Set<string>();
  readonly #emit: ClientEmit;

  constructor(emit: ClientEmit) {
    this.#emit = emit;
  }

  /** The channels of the current connection's server-side subscriptions. */
  get channels(): ReadonlySet<string> {
    return this.#channels;
  }

  /** The server's 'subscribed' push (ignored for a channel the client subscribed itself). */
  onSubscribedPush(message: Record<string, unknown>, clientSubscribed: boolean): void {
    const channel = message['channel'];
    if (typeof channel !== 'string' || clientSubscribed) return;
    this.#channels.add(channel);
    const offset = typeof message['offset'] === 'number' ? message['offset'] : 0;
    const epoch = typeof message['epoch'] === 'string' ? message['epoch'] : '';
    this.#emit('subscribed', { channel, offset, epoch, recoverable: message['recoverable'] === true });
  }

  /** A publication of a channel with no client-side subscription. */
  onPublication(push: PublicationPush): void {
    if (!this.#channels.has(push.channel)) return;
    const event: ServerPublicationEvent = { channel: push.channel, offset: push.offset, data: push.data };
    if (push.info !== undefined) event.info = push.info;
    this.#emit('publication', event);
  }

  /** An 'unsubscribed' push for a channel with no client-side subscription. */
  onUnsubscribedPush(message: Record<string, unknown>): void {
    const channel = message['channel'];
    if (typeof channel !== 'string' || !this.#channels.delete(channel)) return;
    this.#emit('unsubscribed', { channel, code: String(message['code'] ?? 'server'), reason: String(message['reason'] ?? '') });
  }

  /** The connection ended: so did its server-side subscriptions. */
  connectionLost(): void {
    this.#channels.clear();
  }
}
