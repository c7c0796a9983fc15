/**
 * The chat's composer (/apps/composer.js): whether Send may go, the counter
 * near MAX_CHAT_TEXT, the sentence when the text is over it, and why the
 * server or the SDK refused a message. It never cuts the text.
 */
import { MAX_CHAT_TEXT } from './api.js';
import { byId } from './common.js';

/** The composer shows its counter from this share of MAX_CHAT_TEXT on. */
const COUNTER_FROM = 0.8;

/** Whether the composer may send: a room is shown (before, there is nowhere to send to). */
let composerEnabled = false;

/** The composer works once a room is shown, and Send once the text is one the server takes. */
export function enableComposer(enabled: boolean): void {
  composerEnabled = enabled;
  const input = byId<HTMLInputElement>('message-input');
  input.disabled = !enabled;
  checkComposer();
  if (enabled && document.activeElement === document.body) input.focus();
}

const numbers = new Intl.NumberFormat('en-US');

/**
 * Checks the composer's text against MAX_CHAT_TEXT (what the server's
 * schema takes, counted as the text that would be sent): near the limit a
 * counter, over it a sentence and a disabled Send. Nothing is ever cut.
 * Returns whether the text may be sent.
 */
export function checkComposer(): boolean {
  const input = byId<HTMLInputElement>('message-input');
  const length = input.value.trim().length;
  const over = length > MAX_CHAT_TEXT;
  byId<HTMLButtonElement>('send').disabled = !composerEnabled || over;
  input.setAttribute('aria-invalid', String(over));
  if (over) showComposerNote(`${numbers.format(MAX_CHAT_TEXT)} characters at most — this message has ${numbers.format(length)}. Shorten it to send it.`, 'over');
  else if (length >= MAX_CHAT_TEXT * COUNTER_FROM) showComposerNote(`${numbers.format(length)} / ${numbers.format(MAX_CHAT_TEXT)}`, 'count');
  else showComposerNote('');
  return composerEnabled && !over && length > 0;
}

/** The line above the composer: a counter, a text over the limit, or why a message was not sent (empty: hidden). */
export function showComposerNote(text: string, kind: 'count' | 'over' | 'error' = 'count'): void {
  const note = byId('composer-note');
  note.textContent = text;
  note.dataset.kind = kind;
  note.hidden = text === '';
}

/** Why a message was not sent, in a sentence, from the error's code (the SDK's or the server's). */
export function notSentReason(error: unknown): string {
  const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : '';
  switch (code) {
    case 'limit_exceeded':
      return 'Not sent: this message is too large for this server. Shorten it and send it again.';
    case 'invalid_data':
      return `Not sent: the server refused this message (a chat message is 1 to ${numbers.format(MAX_CHAT_TEXT)} characters with the time it was sent; is this device’s clock right?).`;
    case 'rate_limited':
      return 'Not sent: too many messages at once. Wait a moment and send it again.';
    case 'forbidden':
      return 'Not sent: you may not write in this room.';
    default:
      return `Not sent: ${error instanceof Error ? error.message : String(error)}. Your text is still here; send it again.`;
  }
}
