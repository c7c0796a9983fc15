// Server-Sent Events as the fallback uses them: the formatting of message and
// close events, and the incremental parser the SDK reads streams with (the
// standard's rules, chunks split anywhere).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventStreamParser, formatCloseEvent, formatComment, formatMessageEvent, type StreamEvent } from '../../../src/realtime/wire/event-stream.js';

/** Feeds `text` in chunks of `size` characters. */
function parseInChunks(text: string, size: number): StreamEvent[] {
  const parser = new EventStreamParser();
  const events: StreamEvent[] = [];
  for (let index = 0; index < text.length; index += size) events.push(...parser.feed(text.slice(index, index + size)));
  return events;
}

describe('event stream', () => {
  it('formats a message as one data line and no id (the same bytes for every stream); a close event by name', () => {
    assert.equal(formatMessageEvent('{"type":"ping"}'), 'data: {"type":"ping"}\n\n');
    assert.equal(formatCloseEvent(4002, 'slow consumer'), 'event: close\ndata: {"code":4002,"reason":"slow consumer"}\n\n');
    assert.equal(formatComment('keep\nalive'), ': keep alive\n\n');
  });

  it('reads back what it formats, whatever the chunking', () => {
    const text = formatMessageEvent('{"a":"ünï ✓"}') + formatComment('x') + formatMessageEvent('two\nlines') + formatCloseEvent(1000, '');
    const expected: StreamEvent[] = [
      { type: 'message', data: '{"a":"ünï ✓"}', lastEventId: '' },
      { type: 'message', data: 'two\nlines', lastEventId: '' },
      { type: 'close', data: '{"code":1000,"reason":""}', lastEventId: '' },
    ];
    for (const size of [1, 2, 3, 7, 1000]) assert.deepEqual(parseInChunks(text, size), expected, `chunks of ${size}`);
  });

  it('follows the standard: CR, LF and CRLF (split between chunks), one leading space, no-data events, ignored fields', () => {
    const parser = new EventStreamParser();
    assert.deepEqual(parser.feed('data:a\r'), []);
    assert.deepEqual(parser.feed('\ndata:  b\r\r'), [], 'a CR at the end may be half a CRLF');
    assert.deepEqual(parser.feed('\n'), [{ type: 'message', data: 'a\n b', lastEventId: '' }]);
    assert.deepEqual(parser.feed('event: x\n\nretry: 10\nid: 5\nfoo: bar\ndata\n\n'), [{ type: 'message', data: '', lastEventId: '5' }]);
    assert.deepEqual(parser.feed('id: a\0b\ndata: c\n\n'), [{ type: 'message', data: 'c', lastEventId: '5' }], 'an id with NUL is ignored');
    assert.equal(parser.lastEventId, '5');
  });
});
