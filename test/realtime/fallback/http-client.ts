// A test client of the HTTP fallback transport that speaks it by hand with
// Node's fetch: opens a session with a batch, reads the event stream (every
// event with its number — counted, as events carry no id — and the close
// event), sends numbered batches, cuts and resumes the stream, and ends the
// session.
import { EventStreamParser } from '../../../src/realtime/wire/event-stream.js';
import type { ServerMessage } from '../../../src/realtime/wire/messages.js';

export interface ReceivedEvent {
  id: number;
  message: ServerMessage;
}

const WAIT = 5_000;

/** POST/GET/DELETE answer without a stream. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** A fetch to the server, with the body as JSON when given. */
export async function request(url: string, init: { method: string; headers?: Record<string, string>; body?: unknown }): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, { method: init.method, headers, body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

export class RawSession {
  readonly events: ReceivedEvent[] = [];
  closeEvent: { code: number; reason: string } | undefined;
  /** True once the current stream ended (by the server, or cut). */
  streamEnded = false;
  /** The number of the last event of the current stream: its first follows the count the stream was asked for after. */
  private counted = 0;
  private nextSeq = 1;
  private abort = new AbortController();

  private constructor(
    readonly base: string,
    readonly id: string,
    readonly openHeaders: Headers,
  ) {}

  /** Opens a session at `base` (…/http) with `messages` (as a version 2 client); rejects with the status when refused. */
  static async open(base: string, messages: object[], headers: Record<string, string> = {}): Promise<RawSession> {
    const abort = new AbortController();
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchboard-fallback': '2', ...headers },
      body: JSON.stringify(messages),
      signal: abort.signal,
    });
    const id = response.headers.get('x-switchboard-session');
    if (response.status !== 200 || id === null || response.body === null) {
      throw new Error(`open refused: ${response.status} ${await response.text()}`);
    }
    const session = new RawSession(base, id, response.headers);
    session.abort = abort;
    void session.read(response.body);
    return session;
  }

  /** The messages received so far. */
  get messages(): ServerMessage[] {
    return this.events.map((event) => event.message);
  }

  /** The number of the last event received (how many the session sent this client, when none was dropped from `events`). */
  get lastEventId(): number {
    return this.events.at(-1)?.id ?? 0;
  }

  /** Sends a batch with the next sequence number (or the one given); resolves the status. */
  async send(messages: object[], options: { seq?: number; ack?: number; body?: string } = {}): Promise<number> {
    const seq = options.seq ?? this.nextSeq++;
    const headers: Record<string, string> = { 'x-switchboard-session': this.id, 'x-switchboard-seq': String(seq) };
    if (options.ack !== undefined) headers['x-switchboard-ack'] = String(options.ack);
    const answer = await request(`${this.base}/send`, { method: 'POST', headers, body: options.body ?? messages });
    return answer.status;
  }

  /** Cuts the current event stream (as a network failure would). */
  cut(): void {
    this.abort.abort();
  }

  /** Asks for the stream again after event `after` (default: the last received); resolves the status. */
  async resume(after = this.lastEventId): Promise<number> {
    this.abort = new AbortController();
    const response = await fetch(`${this.base}/stream`, {
      headers: { 'x-switchboard-session': this.id, 'last-event-id': String(after) },
      signal: this.abort.signal,
    });
    if (response.status === 200 && response.body !== null) {
      this.streamEnded = false;
      this.counted = after;
      void this.read(response.body);
    } else {
      await response.text();
    }
    return response.status;
  }

  /** DELETE: the client ends the session. */
  async end(): Promise<number> {
    this.cut();
    return (await request(this.base, { method: 'DELETE', headers: { 'x-switchboard-session': this.id } })).status;
  }

  /** Resolves once `check` returns a value, polling the received events. */
  async waitFor<T>(check: () => T | undefined, what: string, timeout = WAIT): Promise<T> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(this.messages.slice(-3))}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** The first received message that matches. */
  async message(match: (message: ServerMessage) => boolean, what = 'a message'): Promise<ServerMessage> {
    return this.waitFor(() => this.messages.find(match), what);
  }

  /** The reply to command `id`. */
  async reply(id: number): Promise<ServerMessage & { type: 'reply' }> {
    return (await this.message((m) => m.type === 'reply' && m.id === id, `the reply to ${id}`)) as ServerMessage & { type: 'reply' };
  }

  async closed(): Promise<{ code: number; reason: string }> {
    return this.waitFor(() => this.closeEvent, 'the close event');
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const parser = new EventStreamParser();
    const decoder = new TextDecoder();
    const reader = body.getReader();
    try {
      for (;;) {
        const { value: chunk, done } = await reader.read();
        if (done) break;
        for (const event of parser.feed(decoder.decode(chunk, { stream: true }))) {
          if (event.type === 'close') this.closeEvent = JSON.parse(event.data) as { code: number; reason: string };
          else this.events.push({ id: ++this.counted, message: JSON.parse(event.data) as ServerMessage });
        }
      }
    } catch {
      // cut
    }
    this.streamEnded = true;
  }
}
