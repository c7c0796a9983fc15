/**
 * Server-Sent Events (the `text/event-stream` format of the WHATWG HTML
 * standard) as the HTTP fallback transport uses them (docs/protocol.md §11):
 * each protocol message is one event of one `data:` line holding the
 * message's JSON, and nothing else — no `id:`: the same bytes for every
 * session that gets the message, so that a broadcast is encoded once for all
 * of them. Events are numbered by counting (1, 2, 3 … across the streams of
 * a session), by the server and the client alike. The end of a session is an
 * event named `close` whose data is `{"code","reason"}`, the counterpart of a
 * WebSocket close frame. Formatting for the server, and an incremental parser
 * for clients that read the stream with `fetch`.
 */

/** The event type of the transport-level close. */
export const CLOSE_EVENT = 'close';

/** One event read from a stream. */
export interface StreamEvent {
  /** The `event:` field; 'message' when absent. */
  type: string;
  /** The `data:` lines, joined with '\n'. */
  data: string;
  /** The last `id:` seen so far in the stream (the event's own, or an earlier one), '' before any. */
  lastEventId: string;
}

/** The `data:` lines of a text (one per line of it, so that any text survives the framing). */
function dataLines(data: string): string {
  if (!/[\r\n]/.test(data)) return `data: ${data}\n`;
  return data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join('');
}

/** A message event: `data:` lines and the empty line that ends it (JSON text is a single `data:` line). The same for every stream that sends `data`. */
export function formatMessageEvent(data: string): string {
  return `${dataLines(data)}\n`;
}

/** The close event: the session ended with `code` (a close code of docs/protocol.md §7) and `reason`. */
export function formatCloseEvent(code: number, reason: string): string {
  return `event: ${CLOSE_EVENT}\n${dataLines(JSON.stringify({ code, reason }))}\n`;
}

/** A comment line: ignored by parsers, keeps proxies from seeing an idle response. */
export function formatComment(text: string): string {
  return `: ${text.replace(/[\r\n]/g, ' ')}\n\n`;
}

/**
 * Reads events from a stream delivered in arbitrary chunks (a line, or a CR
 * LF pair, may be split between two chunks). Follows the standard's parsing
 * rules: CR, LF and CR LF end lines; a line starting with ':' is a comment;
 * one space after the colon is dropped; an empty line dispatches the event;
 * an event without data is not dispatched; `retry:` and unknown fields are
 * ignored; an `id:` containing NUL is ignored.
 */
export class EventStreamParser {
  #buffer = '';
  #type = '';
  #data: string[] = [];
  #lastEventId = '';

  /** The last event id seen (the fallback sends none: its clients count events). */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** Parses the next chunk of text; returns the events it completed, in order. */
  feed(chunk: string): StreamEvent[] {
    const events: StreamEvent[] = [];
    let text = this.#buffer + chunk;
    // A CR at the very end may be the first half of a CR LF: wait for the next chunk.
    const heldCr = text.endsWith('\r');
    if (heldCr) text = text.slice(0, -1);
    let start = 0;
    for (;;) {
      const end = lineEnd(text, start);
      if (end === -1) break;
      this.#line(text.slice(start, end), events);
      start = end + (text[end] === '\r' && text[end + 1] === '\n' ? 2 : 1);
    }
    this.#buffer = text.slice(start) + (heldCr ? '\r' : '');
    return events;
  }

  #line(line: string, events: StreamEvent[]): void {
    if (line === '') {
      this.#dispatch(events);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#type = value;
    else if (field === 'id' && !value.includes('\0')) this.#lastEventId = value;
  }

  #dispatch(events: StreamEvent[]): void {
    const type = this.#type === '' ? 'message' : this.#type;
    const data = this.#data;
    this.#type = '';
    this.#data = [];
    if (data.length === 0) return;
    events.push({ type, data: data.join('\n'), lastEventId: this.#lastEventId });
  }
}

/** Index of the next CR or LF at or after `from`, or -1. */
function lineEnd(text: string, from: number): number {
  for (let index = from; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === 10 || code === 13) return index;
  }
  return -1;
}
