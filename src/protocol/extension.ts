/**
 * The extension framework (RFC 6455 §9): how an extension is negotiated in the
 * handshake and how it takes part in framing once negotiated. Concrete
 * extensions (permessage-deflate) implement these interfaces.
 */
import type { ExtensionParam } from './headers.js';

/** A negotiated extension, as used by a connection. */
export interface Extension {
  /** Registered name, e.g. "permessage-deflate". */
  readonly name: string;
  /** RSV bits this extension may set on the first frame of a data message (e.g. RSV1 = 0x40). */
  readonly rsvBits: number;
  /**
   * Transforms a received message. `rsv` holds the RSV bits of its first
   * frame; the result may not exceed `maxSize` bytes (check while decoding,
   * never allocate past it). Throws `RemoteProtocolError` on invalid or
   * oversized data. Runs synchronously.
   */
  decode(data: Buffer, rsv: number, binary: boolean, maxSize: number): Buffer;
  /**
   * Transforms an outgoing message; returns the payload to frame and the RSV
   * bits of its first frame. `compress: false` asks to send it as is.
   */
  encode(data: Uint8Array, binary: boolean, options: { compress?: boolean }): { data: Uint8Array; rsv: number };
  /**
   * When `encode`'s output depends only on its input (no state kept between
   * messages), a key naming the encoding: connections whose extensions have
   * equal keys can share encoded frames (a broadcast compressed once). Null
   * when the output depends on per-connection state.
   */
  readonly sharedEncodingKey: string | null;
  /** Releases resources when the connection ends. */
  dispose?(): void;
}

/** The server side of an extension: answers the client's offers. */
export interface ServerExtension {
  readonly name: string;
  /**
   * Called with the parameters of every offer of this extension, in the
   * client's order. Returns the accepted parameters (sent back) and the
   * extension, or null to decline them all.
   */
  negotiate(offers: ExtensionParam[][]): { params: ExtensionParam[]; extension: Extension } | null;
}

/** The client side of an extension: makes an offer and checks the answer. */
export interface ClientExtension {
  readonly name: string;
  /** Parameters of the offer sent in the request. */
  offer(): ExtensionParam[];
  /**
   * Checks the server's answer and returns the extension; throws an `Error`
   * whose message says what is wrong to fail the connection.
   */
  accept(params: ExtensionParam[]): Extension;
}
