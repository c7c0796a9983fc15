/**
 * History queries, paged: when the server's byte budget cuts a reply short
 * (`more`), the next page is asked for `since` the last publication received,
 * until the query is answered in full (docs/protocol.md §4.8).
 */
import type { HistoryResult, StreamPosition } from '../wire/messages.js';
import type { HistoryQuery, RequestOptions } from './subscription.js';

/** Sends one command and resolves with its result. */
export type RequestFunction = (type: string, fields: Record<string, unknown>, options: RequestOptions | undefined) => Promise<unknown>;

/** The whole answer of a history query, however many pages it takes. */
export async function history(request: RequestFunction, channel: string, query: HistoryQuery | undefined, options: RequestOptions | undefined): Promise<HistoryResult> {
  const publications: HistoryResult['publications'] = [];
  let last: HistoryResult | undefined;
  for await (const page of historyPages(request, channel, query, options)) {
    publications.push(...page.publications);
    last = page;
  }
  return { publications, offset: last!.offset, epoch: last!.epoch };
}

/** The pages of a history query: the next one asked `since` the last publication received, while the server says `more`. */
export async function* historyPages(
  request: RequestFunction,
  channel: string,
  query: HistoryQuery | undefined,
  options: RequestOptions | undefined,
): AsyncGenerator<HistoryResult, void, undefined> {
  let page = await historyPage(request, channel, query?.since, query?.limit, options);
  const epoch = page.epoch;
  let received = page.publications.length;
  yield { publications: page.publications, offset: page.offset, epoch };
  while (page.more === true && page.publications.length > 0) {
    const remaining = query?.limit === undefined ? undefined : query.limit - received;
    if (remaining !== undefined && remaining <= 0) return;
    const since = { offset: page.publications[page.publications.length - 1]!.offset, epoch };
    page = await historyPage(request, channel, since, remaining, options);
    // A stream that lost its history meanwhile ends the query where it got to.
    if (page.epoch !== epoch) return;
    received += page.publications.length;
    yield { publications: page.publications, offset: page.offset, epoch };
  }
}

function historyPage(
  request: RequestFunction,
  channel: string,
  since: StreamPosition | undefined,
  limit: number | undefined,
  options: RequestOptions | undefined,
): Promise<HistoryResult> {
  const fields: Record<string, unknown> = { channel };
  if (since !== undefined) fields['since'] = since;
  if (limit !== undefined) fields['limit'] = limit;
  return request('history', fields, options) as Promise<HistoryResult>;
}
