// Broker tests speak in values; brokers keep encoded bytes. These helpers
// encode what a test publishes (JSON by default, MessagePack on request) and
// decode what a broker reports, so assertions compare plain values.
import type { Broker, HistoryOptions } from '../../../src/realtime/broker/broker.js';
import { decodeValue, encodeValue, type EncodedPublication } from '../../../src/realtime/wire/encoded.js';
import type { ClientInfo, Publication } from '../../../src/realtime/wire/messages.js';

export const JSON_ENCODING = { binary: false } as const;
export const MSGPACK_ENCODING = { binary: true } as const;

export interface PublishValueOptions {
  history?: HistoryOptions;
  info?: ClientInfo;
  /** Encode as MessagePack instead of JSON. */
  binary?: boolean;
}

/** Publishes `value` (and `info`) encoded; resolves the position with the value, for comparisons. */
export async function publishValue(
  broker: Broker,
  channel: string,
  value: unknown,
  options: PublishValueOptions = {},
): Promise<{ offset: number; epoch: string; data: unknown }> {
  const encoding = options.binary === true ? MSGPACK_ENCODING : JSON_ENCODING;
  const body = options.info === undefined
    ? { data: encodeValue(value, encoding) }
    : { data: encodeValue(value, encoding), info: encodeValue(options.info, encoding) };
  const published = await broker.publish(channel, body, options.history === undefined ? {} : { history: options.history });
  return { offset: published.offset, epoch: published.epoch, data: value };
}

/** A publication as values. */
export function decodePublication(publication: EncodedPublication): Publication {
  const decoded: Publication = { offset: publication.offset, data: decodeValue(publication.data) };
  if (publication.info !== undefined) decoded.info = decodeValue(publication.info) as ClientInfo;
  return decoded;
}

/** Publications as values. */
export function decodePublications(publications: readonly EncodedPublication[]): Publication[] {
  return publications.map(decodePublication);
}
